/* A program built against an installed libproxystore, as an application
 * would build it (pkg-config or CMake's find_package). */
#include <stdio.h>
#include <string.h>

#include <proxystore/proxystore.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: consumer DIR\n");
        return 2;
    }
    char opts[4200];
    snprintf(opts, sizeof opts, "{\"store_dir\": \"%s\"}", argv[1]);
    ps_connector *conn = NULL;
    ps_store *store = NULL;
    ps_key *key = NULL;
    ps_bytes obj = PS_BYTES_INIT;
    if (ps_connector_open("file", opts, &conn) != PS_OK ||
        ps_store_new("installed", conn, NULL, &store) != PS_OK ||
        ps_store_put(store, "hello", 5, NULL, &key) != PS_OK ||
        ps_store_get(store, key, NULL, &obj) != PS_OK) {
        fprintf(stderr, "consumer: %s\n", ps_last_error());
        return 1;
    }
    int ok = obj.len == 5 && memcmp(obj.data, "hello", 5) == 0;
    printf("%s %s %s\n", ps_version(), ps_key_str(key), ok ? "ok" : "MISMATCH");
    ps_bytes_free(&obj);
    ps_key_free(key);
    ps_store_close(store, PS_CLEAR_ALL);
    return ok ? 0 : 1;
}
