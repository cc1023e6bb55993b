/* coord_client: what a rank (its lower half) needs to talk to the job's
 * coordinator: find it, say HELLO, wait for commands, report DONE.
 * Plain blocking C for an ordinary thread of the lower half; no global
 * state, so any number of clients may exist (the tests start several).
 * The protocol is in docs/coordinator-protocol.md.
 *
 * Every function that can fail returns -1 and, where it takes ERR, fills
 * it with a message naming the coordinator, the cause and what to do. */
#ifndef MANA_COORD_CLIENT_H
#define MANA_COORD_CLIENT_H

#include <stddef.h>
#include <stdint.h>

struct coord_client;

/* Address and token: MANA_COORD + MANA_COORD_TOKEN from the environment,
 * else the file CKPT_DIR/.coordinator ("HOST:PORT TOKEN\n"). CKPT_DIR
 * NULL means $MANA_CKPT_DIR, else ./mana-checkpoints. 0 or -1 with err. */
int coord_client_find(const char *ckpt_dir, char *hostport, size_t hostport_len, char *token, size_t token_len,
                      char *err, size_t errlen);

/* Only the file CKPT_DIR/.coordinator (CKPT_DIR as above), whatever the
 * environment says. 0 or -1 with err. */
int coord_client_read_file(const char *ckpt_dir, char *hostport, size_t hostport_len, char *token, size_t token_len,
                           char *err, size_t errlen);

/* Connects, says HELLO as RANK of NRANKS and waits (up to 30 s) for the
 * coordinator's WELCOME: 0 and *OUT, or -1 with ERR (unreachable,
 * refused token, rank already taken, wrong number of ranks). */
int coord_client_connect(const char *hostport, const char *token, int rank, int nranks, struct coord_client **out,
                         char *err, size_t errlen);

/* The socket, to put in a poll set; readable when a command may be there
 * (coord_client_poll with timeout 0 then reads it). */
int coord_client_fd(const struct coord_client *c);

enum coord_cmd_kind { COORD_CMD_NONE, COORD_CMD_CHECKPOINT, COORD_CMD_RESUME, COORD_CMD_EXIT, COORD_CMD_KILL,
                     COORD_CMD_GO };

struct coord_cmd {
    enum coord_cmd_kind kind;
    uint64_t gen;   /* CHECKPOINT, RESUME, EXIT */
    int exit_after; /* CHECKPOINT: 1 if the ranks will be told to exit once it is durable */
    int ok;         /* RESUME: 1 the generation is complete and durable, 0 it failed */
    char dir[4096]; /* CHECKPOINT: absolute path of the generation directory */
};

/* Waits up to TIMEOUT_MS (-1 forever) for the next command: 1 got one,
 * 0 timeout, -1 connection lost or protocol error (ERR filled). */
int coord_client_poll(struct coord_client *c, struct coord_cmd *cmd, int timeout_ms, char *err, size_t errlen);

/* DONE for generation GEN: OK 1 with the image's BYTES and XXH64
 * CHECKSUM, or OK 0 with MSG saying why (NULL: none; cut to 511 bytes).
 * 0 sent, -1 the connection is lost. */
int coord_client_report(struct coord_client *c, uint64_t gen, int ok, uint64_t bytes, uint64_t checksum,
                        const char *msg);

/* READY for generation GEN: this rank has accepted the checkpoint (it
 * is not finishing). The coordinator answers GO once every rank is
 * ready, or RESUME ok=0 if one refused (DONE ok=0). 0 sent, -1 lost. */
int coord_client_ready(struct coord_client *c, uint64_t gen);

/* WAITING for generation GEN: why the other ranks wait for this one
 * while they agree on a consistent point (WHY "" once they no longer do;
 * cut to COORD_MSG_MAX - 1 bytes), for mana-ckpt --status. 0 sent, -1
 * lost. */
int coord_client_waiting(struct coord_client *c, uint64_t gen, const char *why);

/* REQUEST: asks the coordinator for a checkpoint of the whole job
 * (EXIT_AFTER 1: and to exit once it is durable, as on SIGUSR1).
 * 0 sent, -1 the connection is lost. */
int coord_client_request_checkpoint(struct coord_client *c, int exit_after);

/* Says BYE first when SAY_BYE (a clean exit), closes, frees. NULL is fine. */
void coord_client_close(struct coord_client *c, int say_bye);

/* Shared with mana-ckpt: a TCP connection to HOSTPORT within TIMEOUT_MS.
 * The fd (blocking, close-on-exec), or -1 with ERR; *REFUSED is set to 1
 * when the cause is that nothing listens there (may be NULL). */
int coord_client_dial(const char *hostport, int timeout_ms, int *refused, char *err, size_t errlen);

/* Writes all of BUF to FD (blocking): 0, or -1 with errno. */
int coord_client_write_all(int fd, const char *buf, size_t len);

#endif
