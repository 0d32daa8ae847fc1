/*
 * example_pipeline: a producer and a consumer process connected by a pipe.
 *
 * The producer puts objects into a file store and writes one proxy token
 * per line into the pipe; the consumer (a forked child) reads the tokens,
 * resolves each one and prints what it got. Only tokens (~150 bytes) cross
 * the pipe, whatever the size of the objects.
 *
 *   example_pipeline [STORE_DIR]     (default: a temporary directory)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <proxystore/proxystore.h>

static int consumer(FILE *in)
{
    char line[PS_PROXY_TOKEN_MAX + 2];
    int bad = 0;
    while (fgets(line, sizeof line, in)) {
        line[strcspn(line, "\n")] = '\0';
        ps_proxy *p = NULL;
        const void *data;
        size_t len;
        if (ps_proxy_decode(line, &p) != PS_OK || ps_proxy_resolve(p, &data, &len) != PS_OK) {
            fprintf(stderr, "consumer: %s\n", ps_last_error());
            bad++;
        } else {
            printf("consumer: %zu bytes: \"%.*s\"\n", len, (int)(len < 40 ? len : 40),
                   (const char *)data);
            fflush(stdout);
        }
        ps_proxy_unref(p);
    }
    /* close the store that resolving built in this process */
    ps_store_close(ps_store_lookup("pipeline"), PS_CLEAR_KEEP);
    return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    char tmpl[] = "/tmp/ps-example-pipeline-XXXXXX";
    const char *dir = argc > 1 ? argv[1] : mkdtemp(tmpl);
    if (dir == NULL)
        return perror("mkdtemp"), 1;

    /* A file store; its configuration (with the directory) travels in every token.
     * clear=true: closing it below removes the directory. */
    char opts[4096];
    snprintf(opts, sizeof opts, "{\"store_dir\": \"%s\", \"clear\": true}", dir);
    ps_connector *conn = NULL;
    ps_store *store = NULL;
    if (ps_connector_open("file", opts, &conn) != PS_OK ||
        ps_store_new("pipeline", conn, NULL, &store) != PS_OK)
        return fprintf(stderr, "producer: %s\n", ps_last_error()), 1;

    int fds[2];
    if (pipe(fds) != 0)
        return perror("pipe"), 1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[1]);
        int rc = consumer(fdopen(fds[0], "r"));
        fflush(stdout);
        _exit(rc);
    }
    close(fds[0]);
    FILE *out = fdopen(fds[1], "w");

    const char *messages[] = {"a small object", "another one", "the last object"};
    ps_proxy_options o;
    ps_proxy_options_init(&o);
    o.evict = true; /* each object is removed once the consumer has it */
    for (size_t i = 0; i < sizeof messages / sizeof messages[0]; i++) {
        ps_proxy *p = NULL;
        char *token = NULL;
        if (ps_store_proxy(store, messages[i], strlen(messages[i]), &o, &p) != PS_OK ||
            ps_proxy_encode(p, &token) != PS_OK)
            return fprintf(stderr, "producer: %s\n", ps_last_error()), 1;
        fprintf(out, "%s\n", token);
        printf("producer: sent a %zu-byte token for \"%s\"\n", strlen(token), messages[i]);
        fflush(stdout);
        ps_free(token);
        ps_proxy_unref(p);
    }
    fclose(out); /* end of stream for the consumer */

    int status = 0;
    waitpid(pid, &status, 0);
    ps_store_close(store, PS_CLEAR_DEFAULT);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
