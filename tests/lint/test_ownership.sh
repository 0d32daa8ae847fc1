#!/usr/bin/env bash
# The ownership check (tests/lint/check_ownership.py): every PS_API
# declaration of the tree has an "Ownership:" line in its doc comment, and the
# check catches a declaration without one (no comment, a comment without the
# line, and a declaration sharing a comment that lacks it), in a small tree
# made here.
#   test_ownership.sh SOURCE_DIR
set -euo pipefail
src=$1
check=$src/tests/lint/check_ownership.py
python3 "$check" "$src"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"/include/proxystore/connectors
cat >"$tmp"/include/proxystore/good.h <<'H'
/** Make a thing. Ownership: `*out` is new; free with ps_thing_free(). */
PS_API ps_status ps_thing_new(ps_thing **out);

/**
 * Two getters under one comment.
 * Ownership: borrowed.
 */
PS_API const char *ps_thing_a(const ps_thing *t);
PS_API const char *ps_thing_b(const ps_thing *t);
H
cat >"$tmp"/include/proxystore/connectors/bad.h <<'H'
#define PS_BAD 1
PS_API void ps_bad_no_comment(void);

/** Says nothing about who owns what. */
PS_API ps_status ps_bad_silent(char **out);

/** Ownership: static. */
PS_API const char *ps_bad_fine(void);

typedef struct ps_bad_options {
    unsigned version; /**< Ownership: not a declaration's comment */
} ps_bad_options;
PS_API void ps_bad_after_struct(ps_bad_options *o);

/** A group whose comment lacks the line. */
PS_API int ps_bad_group_a(void);
PS_API int ps_bad_group_b(void);
H

if out=$(python3 "$check" "$tmp"); then
    echo "check_ownership passed headers with missing Ownership lines:"; echo "$out"; exit 1
fi
echo "$out"
expect() {
    grep -qF -- "$1" <<<"$out" || { echo "missing: $1"; exit 1; }
}
expect "include/proxystore/connectors/bad.h:2: ps_bad_no_comment: no doc comment"
expect "include/proxystore/connectors/bad.h:5: ps_bad_silent: doc comment has no \"Ownership:\" line"
expect "include/proxystore/connectors/bad.h:13: ps_bad_after_struct: no doc comment"
expect "include/proxystore/connectors/bad.h:16: ps_bad_group_a: doc comment has no \"Ownership:\" line"
expect "include/proxystore/connectors/bad.h:17: ps_bad_group_b: doc comment has no \"Ownership:\" line"
expect "5 of 9 PS_API declaration(s) do not say who owns what"
if grep -q "good.h\|ps_bad_fine" <<<"$out"; then
    echo "flagged a declaration that has its Ownership line"; exit 1
fi
echo "ownership: ok"
