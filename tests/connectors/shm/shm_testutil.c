/* Helpers of the shm connector tests. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm_testutil.h"

char *pst_shm_mkdtemp(const char *tag)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "/dev/shm/pstest-%s-XXXXXX", tag);
    if (mkdtemp(buf) == NULL) {
        const char *t = getenv("TMPDIR");
        snprintf(buf, sizeof buf, "%s/pstest-%s-XXXXXX", t && *t ? t : "/tmp", tag);
        if (mkdtemp(buf) == NULL)
            return NULL;
    }
    return strdup(buf);
}

ps_status pst_shm_open(const char *dir, const char *name, const char *extra, ps_connector **out)
{
    char opts[8192];
    snprintf(opts, sizeof opts, "{\"name\": \"%s\", \"dir\": \"%s\"%s}", name, dir,
             extra ? extra : "");
    return ps_connector_open("shm", opts, out);
}

int pst_count_entries(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}
