/*
 * ProxyStore-C: pass large objects by reference.
 *
 * The umbrella header: include this one. Connector authors also include
 * proxystore/sys/connector.h.
 *
 * The rules of the whole API
 * ==========================
 * Every public function follows these rules; a function's comment says only
 * where it adds to them.
 *
 * Statuses and messages
 *   Every call that can fail returns a ps_status (status.h). PS_OK is 0.
 *   PS_NOT_FOUND ("no object under that key") is an answer, not a failure.
 *   Every other failure leaves a thread-local message naming what failed and
 *   why, read with ps_last_error(); it stays valid until the next library
 *   call on the same thread. ps_strerror() and ps_status_name() never return
 *   NULL. Status values are pinned: never renumbered, only appended.
 *   Every function checks its arguments: a NULL where an object is required
 *   is PS_EINVAL (functions that return no status ignore it, or return
 *   NULL / 0 / false). On failure, out-parameters hold nothing to free
 *   (NULL pointers, empty ps_bytes).
 *
 * Ownership words (each declaration has an "Ownership:" line using them)
 *   new       the caller owns the result and releases it with the function
 *             named (ps_free, ps_key_free, ps_bytes_free, ps_connector_close,
 *             ps_store_unref, ps_proxy_unref, ps_multi_policy_free).
 *   borrowed  the library keeps ownership; valid for the time stated
 *             (usually: while the object it came from lives, unchanged);
 *             never free it.
 *   takes     the call takes ownership of an argument (see the failure rule).
 *   copied    the call copies an input; the caller keeps its own.
 *   static    lives as long as the process; never free it.
 *   none      nothing changes hands.
 *   Inputs not named in an Ownership line are borrowed for the call only;
 *   caller buffers and out-structs (`*o` of an _init function, a `char buf[]`)
 *   stay the caller's.
 *
 * The failure rule
 *   A call that takes ownership of an argument takes it only when it returns
 *   PS_OK. On any failure the argument is still the caller's, unchanged
 *   (ps_store_new and its connector, ps_key_wrap and its inner key,
 *   ps_multi_connector_open and its connectors). Release functions are not
 *   takers: ps_connector_close, ps_store_close and ps_codec_decode (of its
 *   input) release their argument whatever status they return, once the
 *   arguments pass their checks (an invalid `clear` value is PS_EINVAL and
 *   releases nothing).
 *
 * Reference verbs
 *   Counted handles (ps_store, ps_proxy) have one pair of verbs: ps_X_ref()
 *   adds a reference and returns its argument; ps_X_unref() drops one, and
 *   the last one frees the object. A function that makes or looks up a
 *   counted handle returns a new reference. ps_store also has
 *   ps_store_close(), which shuts the store for every holder (unregisters
 *   it, closes its connector) and then drops the caller's reference. A
 *   ps_connector is not counted: it has one owner, who closes it with
 *   ps_connector_close() (or gives it to a store or multi connector).
 *
 * NULL in release functions
 *   Every free, close and unref function accepts NULL and does nothing:
 *   ps_free, ps_key_free, ps_bytes_free, ps_connector_close, ps_store_close,
 *   ps_store_unref, ps_proxy_unref, ps_multi_policy_free.
 *
 * Options structs and structs the library fills
 *   A public struct that can grow starts with `unsigned version`, set to its
 *   PS_X_VERSION by its ps_X_init() function; fill it
 *   with the init function first, then change fields. Structs only grow at
 *   the end. The library refuses a version it does not know with PS_EINVAL.
 *   This holds for options passed in (ps_store_options, ps_redis_options,
 *   ...) and for structs the library fills (ps_time_stats,
 *   ps_store_options_of's output): init them before the call. An options
 *   pointer may be NULL for the defaults where the function says so.
 *   Three small value structs never grow, and have no version: ps_bytes (a
 *   buffer and how to release it), ps_iov (a slice) and ps_multi_tag_list
 *   (a slice of tags); the first two are passed in caller arrays.
 *   ps_multi_entry is read through ps_multi_options, whose version covers
 *   it. Tables of functions the caller provides (ps_allocator, ps_codec,
 *   ps_connector_ops) have no init function: set their version to
 *   PS_ALLOCATOR_VERSION, PS_CODEC_VERSION or PS_CONNECTOR_OPS_VERSION.
 *   Typed connector opens all have the shape
 *     ps_status ps_<kind>_connector_open(const ps_<kind>_options *opts,
 *                                        ps_connector **out);
 *
 * Thread safety
 *   "safe" means: may be called from any number of threads at once, also on
 *   the same object. Unless a comment says otherwise, every function is
 *   safe; stores, connectors and proxies may be shared between threads.
 *   Plain values the caller changes (options structs, ps_bytes, a
 *   ps_multi_policy being built) are not locked: change one from one thread
 *   at a time. A ps_key is immutable, so any thread may read it.
 */
#ifndef PROXYSTORE_PROXYSTORE_H
#define PROXYSTORE_PROXYSTORE_H

#include "common.h"
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
