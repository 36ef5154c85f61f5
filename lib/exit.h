/* exit.h - the one exit-status table every etlkit program uses (sysexits). */
#ifndef ETL_EXIT_H
#define ETL_EXIT_H

#include <sysexits.h>

enum etl_exit {
	ETL_OK = 0,
	ETL_NOTHING = 1,              /* nothing to do: queue empty, no rows */
	ETL_USAGE = EX_USAGE,         /* 64 bad flags or arguments */
	ETL_DATAERR = EX_DATAERR,     /* 65 bad input data (JSON, message) */
	ETL_NOINPUT = EX_NOINPUT,     /* 66 input file or record missing */
	ETL_UNAVAIL = EX_UNAVAILABLE, /* 69 PostgreSQL, RabbitMQ or an API down */
	ETL_SOFTWARE = EX_SOFTWARE,   /* 70 internal error: a bug */
	ETL_IOERR = EX_IOERR,         /* 74 read or write error */
	ETL_TEMPFAIL = EX_TEMPFAIL,   /* 75 rate limited or checkpointed: rerun */
	ETL_CONFIG = EX_CONFIG        /* 78 configuration error */
};

/* Which of two failures is worth reporting: the more serious wins. */
int etl_exit_worst(int a, int b);

#endif
