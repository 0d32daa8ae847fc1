/* Helpers for the endpoint server tests (see eptest.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "eptest.h"
#include "testutil.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int ept_start(ept_server *s, const char *const *args)
{
    memset(s, 0, sizeof *s);
    char *dir = pst_mkdtemp("epsrv");
    if (dir == NULL)
        return -1;
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    free(dir);
    char portfile[1100], logfile[1100];
    snprintf(portfile, sizeof portfile, "%s/port", s->dir);
    snprintf(logfile, sizeof logfile, "%s/server.log", s->dir);
    char *bin = pst_bin_path("proxystore-endpoint");
    const char *argv[64];
    int n = 0;
    argv[n++] = bin;
    argv[n++] = "serve";
    argv[n++] = "--port";
    argv[n++] = "0";
    argv[n++] = "--port-file";
    argv[n++] = portfile;
    for (int i = 0; args != NULL && args[i] != NULL && n < 62; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0) {
        free(bin);
        return -1;
    }
    if (pid == 0) {
        int fd = open(logfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, STDERR_FILENO);
            dup2(fd, STDOUT_FILENO);
        }
        /* Keep ASan's freed-memory quarantine small so RSS reflects live data. */
        setenv("ASAN_OPTIONS",
               "detect_leaks=1:abort_on_error=1:quarantine_size_mb=4:"
               "allocator_release_to_os_interval_ms=100",
               1);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    free(bin);
    s->pid = pid;
    for (int i = 0; i < 1000; i++) { /* up to ~20 s under sanitizers */
        FILE *f = fopen(portfile, "r");
        if (f != NULL) {
            int port = 0;
            int ok = fscanf(f, "%d", &port) == 1;
            fclose(f);
            if (ok && port > 0) {
                s->port = port;
                snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", port);
                return 0;
            }
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            s->pid = 0;
            return -1;
        }
        sleep_ms(20);
    }
    ept_kill9(s);
    return -1;
}

int ept_stop(ept_server *s)
{
    if (s->pid <= 0)
        return -1;
    kill(s->pid, SIGTERM);
    int st = 0;
    for (int i = 0; i < 500; i++) {
        pid_t r = waitpid(s->pid, &st, WNOHANG);
        if (r == s->pid) {
            s->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        sleep_ms(20);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &st, 0);
    s->pid = 0;
    return 128 + SIGKILL;
}

void ept_kill9(ept_server *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

long ept_rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    long kib = -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

typedef struct upload {
    const unsigned char *p;
    size_t left;
    size_t piece;
    int pieces;
} upload;

static size_t read_cb(char *buf, size_t size, size_t n, void *arg)
{
    upload *u = arg;
    size_t max = size * n;
    if (u->piece > 0 && max > u->piece)
        max = u->piece;
    if (max > u->left)
        max = u->left;
    memcpy(buf, u->p, max);
    u->p += max;
    u->left -= max;
    if (u->piece > 0 && max > 0 && ++u->pieces % 4 == 0)
        sleep_ms(5); /* a slow client, like upstream's delayed chunks */
    return max;
}

static size_t write_cb(char *d, size_t size, size_t n, void *arg)
{
    ept_reply *r = arg;
    char *nb = realloc(r->body, r->len + size * n + 1);
    if (nb == NULL)
        return 0;
    memcpy(nb + r->len, d, size * n);
    r->len += size * n;
    nb[r->len] = '\0';
    r->body = nb;
    return size * n;
}

int ept_http(const char *method, const char *url, const void *body, size_t len, int chunked,
             size_t piece, const char *header, ept_reply *out)
{
    memset(out, 0, sizeof *out);
    out->body = calloc(1, 1);
    CURL *h = curl_easy_init();
    if (h == NULL)
        return -1;
    struct curl_slist *hd = curl_slist_append(NULL, "Expect:");
    if (chunked)
        hd = curl_slist_append(hd, "Transfer-Encoding: chunked");
    if (header != NULL)
        hd = curl_slist_append(hd, header);
    upload u = {body, len, piece, 0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "POST") == 0 && (body != NULL || chunked)) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
        curl_easy_setopt(h, CURLOPT_READDATA, &u);
        if (!chunked)
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    } else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
        char *ct = NULL;
        curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
        if (ct != NULL)
            snprintf(out->ctype, sizeof out->ctype, "%s", ct);
    }
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    return rc == CURLE_OK ? 0 : -1;
}

void ept_reply_free(ept_reply *r)
{
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

int ept_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int ept_send(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

char *ept_recv_all(int fd, int timeout_ms)
{
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, timeout_ms) <= 0)
            break;
        if (len + 1024 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        ssize_t r = recv(fd, buf + len, cap - len - 1, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    buf[len] = '\0';
    return buf;
}
