/*
 * jobcmd.h - the job commands of etl-job: the registry (create, list,
 * show, enable, disable, delete), runs (start, tick, status, watch,
 * set-status, runs) and metrics.  Registered in cmd/etl-job.c's table
 * (lib/jobcli.h conventions: argv[0] is the command's own name, the
 * result an exit status after reporting).  The work is in lib/job.h,
 * lib/watch.h and lib/runstats.h; this file parses arguments and prints.
 */
#ifndef ETL_JOBCMD_H
#define ETL_JOBCMD_H

#include "jobcli.h"

int etl_jobcmd_create(struct etl_jobcli *cli, int argc, char **argv);
int etl_jobcmd_list(struct etl_jobcli *cli, int argc, char **argv);
int etl_jobcmd_show(struct etl_jobcli *cli, int argc, char **argv);
int etl_jobcmd_enable(struct etl_jobcli *cli, int argc, char **argv);
int etl_jobcmd_disable(struct etl_jobcli *cli, int argc, char **argv);
int etl_jobcmd_delete(struct etl_jobcli *cli, int argc, char **argv);
int etl_jobcmd_start(struct etl_jobcli *cli, int argc, char **argv);
int etl_jobcmd_tick(struct etl_jobcli *cli, int argc, char **argv);
int etl_jobcmd_status(struct etl_jobcli *cli, int argc, char **argv);
int etl_jobcmd_watch(struct etl_jobcli *cli, int argc, char **argv);
int etl_jobcmd_set_status(struct etl_jobcli *cli, int argc, char **argv);
int etl_jobcmd_runs(struct etl_jobcli *cli, int argc, char **argv);
int etl_jobcmd_metrics(struct etl_jobcli *cli, int argc, char **argv);

#endif
