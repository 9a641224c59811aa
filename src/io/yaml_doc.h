/* YAML files as jansson trees, loaded the way msModelSlim loads its configs (PyYAML's
 * SafeLoader plus a loader that rejects duplicate keys).
 *
 * - One document per file; an empty file gives JSON null. The name must end in .yaml/.yml.
 * - Anchors and aliases (an alias shares the anchored node, with a reference count);
 *   merge keys `<<: *a` and `<<: [*a, *b]` (explicit keys win, then the first source).
 *   Anchor names must be unique and an alias must follow its (complete) anchor.
 * - Plain scalars resolve as PyYAML's YAML 1.1 resolver does: null (~, null/Null/NULL,
 *   empty), booleans (true/false/yes/no/on/off in lower, Capitalised or UPPER case),
 *   integers (decimal, 0x, 0b, leading-0 octal, `_` separators, sexagesimal 1:30) and
 *   floats (1.5, .5, 1.0e+5, .inf, .nan, 1:30.5). Quoted scalars are strings. As in
 *   PyYAML, `1e-5` and `1.0e5` (no dot, or no exponent sign) stay STRINGS and `0o17` is a
 *   string; the schema layer accepts numeric strings for float fields, as pydantic does.
 * - Explicit tags: !!str, !!int, !!float, !!bool, !!null, !!map, !!seq, !!merge; any other
 *   tag is an error (PyYAML's safe constructor has none for them).
 * - Differences from PyYAML, all on inputs no config uses: timestamps stay strings;
 *   .inf/.nan become the strings "inf", "-inf", "nan" (jansson has no non-finite reals);
 *   integers must fit in 64 bits; mapping keys must be strings (quote `1:` or `yes:`);
 *   recursive aliases are an error.
 *
 * Errors (VS_ERR_FORMAT) name "<file>:<line>:<column>: ..." (1-based): syntax errors,
 * duplicate keys (with the line of the first occurrence), undefined aliases, bad tags.
 * Unreadable files are VS_ERR_IO. */
#ifndef VS_IO_YAML_DOC_H
#define VS_IO_YAML_DOC_H

#include <jansson.h>
#include <stddef.h>

#include "base/status.h"

/* A loaded file: its tree plus the source line of every mapping key and sequence item. */
struct vs_yaml_doc;

enum vs_status vs_yaml_doc_load(const char *path, struct vs_yaml_doc **out);
void vs_yaml_doc_free(struct vs_yaml_doc *doc);

/* The tree (borrowed; lives as long as doc) and the file name given to _load. */
json_t *vs_yaml_doc_root(const struct vs_yaml_doc *doc);
const char *vs_yaml_doc_path(const struct vs_yaml_doc *doc);

/* 1-based line of member `key` of mapping `obj` / of item `index` of sequence `arr`
 * (both nodes of this doc), or 0 if unknown. For a node shared through an alias, the line
 * is where the anchored text is; for a merged member, the line of its source key. */
int vs_yaml_doc_key_line(const struct vs_yaml_doc *doc, const json_t *obj, const char *key);
int vs_yaml_doc_item_line(const struct vs_yaml_doc *doc, const json_t *arr, size_t index);

/* Just the tree (new reference), without line information. */
enum vs_status vs_yaml_load_file(const char *path, json_t **out);

#endif
