/*
 * ProxyStore-C: pass large objects by reference.
 *
 * The umbrella header: include this one. Connector authors also include
 * proxystore/sys/connector.h.
 */
#ifndef PROXYSTORE_PROXYSTORE_H
#define PROXYSTORE_PROXYSTORE_H

#include "version.h"
#include "status.h"
#include "alloc.h"
#include "bytes.h"
#include "key.h"
#include "util.h"
#include "codec.h"
#include "connector.h"
#include "store.h"
#include "metrics.h"
#include "proxy.h"

#endif
