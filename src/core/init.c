/* One-time library setup. */
#include <pthread.h>

#include "internal.h"

static pthread_once_t ps__once = PTHREAD_ONCE_INIT;

static void ps__init(void)
{
    ps__codecs_init_builtin();
    ps__connectors_init_builtin();
}

void ps__init_once(void)
{
    pthread_once(&ps__once, ps__init);
}
