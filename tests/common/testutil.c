#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <stddef.h>
#include <cmocka.h>

#include "proxystore/connectors/file.h"
#include "testutil.h"

char *pst_mkdtemp(const char *tag)
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || *base == '\0')
        base = "/tmp";
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/ps-test-%s-XXXXXX", base, tag ? tag : "x");
    if (mkdtemp(tmpl) == NULL)
        return NULL;
    return strdup(tmpl);
}

static int pst__skips;

void pst_note_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("SKIPPED: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    pst__skips++;
}

int pst_exit(int failed)
{
    if (failed != 0)
        return failed;
    if (pst__skips > 0) {
        fprintf(stderr, "%d case(s) skipped: the test is reported as skipped\n", pst__skips);
        return PST_SKIP_CODE;
    }
    return 0;
}

void pst_rmtree(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL) {
        unlink(path);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            chmod(p, 0700);
            pst_rmtree(p);
        } else {
            unlink(p);
        }
    }
    closedir(d);
    rmdir(path);
}

void pst_fill(void *buf, size_t n, uint32_t seed)
{
    unsigned char *p = buf;
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
}

int pst_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

char *pst_bin_path(const char *name)
{
    const char *b = getenv("PS_TEST_BUILD_DIR");
    if (b == NULL)
        b = PS_TEST_BUILD_DIR;
    char *p = malloc(strlen(b) + strlen(name) + 8);
    if (p)
        sprintf(p, "%s/bin/%s", b, name);
    return p;
}

int pst_system(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int r = system(cmd);
    if (r == -1)
        return -1;
    return WIFEXITED(r) ? WEXITSTATUS(r) : 128 + WTERMSIG(r);
}

pst_file_fixture *pst_file_fixture_new(const char *name, bool metrics)
{
    pst_file_fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->dir = pst_mkdtemp(name);
    assert_non_null(f->dir);
    ps_connector *c = NULL;
    PS_ASSERT_OK(ps_file_connector_open(
        &(ps_file_options){.version = PS_FILE_OPTIONS_VERSION, .store_dir = f->dir, .clear = false},
        &c));
    ps_store_options o;
    ps_store_options_init(&o);
    o.register_store = true;
    o.metrics = metrics;
    o.populate_target = PS_POPULATE_NO;
    PS_ASSERT_OK(ps_store_new(name, c, &o, &f->store));
    return f;
}

void pst_file_fixture_free(pst_file_fixture *f)
{
    if (f == NULL)
        return;
    ps_store_close(f->store, PS_CLEAR_KEEP);
    pst_rmtree(f->dir);
    free(f->dir);
    free(f);
}
