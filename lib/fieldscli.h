/*
 * fieldscli.h - the mapping commands of etl-job (the seed's UI-driven
 * mapping, without code changes):
 *
 *   etl-job fields list --integration I          discovered custom fields
 *   etl-job fields map --integration I --slot S --field customfield_N
 *   etl-job fields unmap --integration I --slot S
 *   etl-job status-map list --integration I      statuses, effective steps
 *   etl-job status-map set --integration I --status NAME_OR_ID --step STEP
 *
 * They edit custom_fields_mapping and status_mappings; etl-transform reads
 * both for every message, so a change takes effect on the next transform
 * or `etl-extract --replay`.  Registered in cmd/etl-job.c's table
 * (lib/jobcli.h conventions: argv[0] is the command's own name, the
 * result an exit status after reporting).
 */
#ifndef ETL_FIELDSCLI_H
#define ETL_FIELDSCLI_H

#include "jobcli.h"

/* etl-job fields (list | map | unmap) ... */
int etl_fieldscli_fields(struct etl_jobcli *cli, int argc, char **argv);
/* etl-job status-map (list | set) ... */
int etl_fieldscli_status_map(struct etl_jobcli *cli, int argc, char **argv);

#endif
