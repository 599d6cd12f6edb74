/*
 * Where each section and setting of a config file is: the file and its
 * .include files read as NCONF reads them, line by line. NCONF keeps no
 * line numbers and silently keeps the last of two equal settings; this
 * index gives every error its file:line (inside included files too) and
 * finds settings given twice (docs/deploy.md §3).
 */
#ifndef LURKD_CONF_CONFIG_SCAN_H
#define LURKD_CONF_CONFIG_SCAN_H

#include <stdbool.h>
#include <stddef.h>

struct lurkd_conf_loc {
    const char *file; /* owned by the index */
    int line;
    char *section; /* "default" before the first header */
    char *name;    /* NULL for a section header */
};

struct lurkd_conf_index {
    struct lurkd_conf_loc *locs;
    size_t n;
    char **files; /* the config file and every file it includes */
    size_t n_files;
};

/* Indexes path and its includes; false only when memory runs out. Unreadable files are skipped. */
bool lurkd_conf_index_build(struct lurkd_conf_index *ix, const char *path);
void lurkd_conf_index_free(struct lurkd_conf_index *ix);
/*
 * The first occurrence of setting name in section (its header when name is
 * NULL), or NULL. Its position in ix->locs orders sections as written.
 */
const struct lurkd_conf_loc *lurkd_conf_index_find(const struct lurkd_conf_index *ix,
                                                   const char *section, const char *name);
/* The first setting given twice in one section: *first and *second, false when none. */
bool lurkd_conf_index_duplicate(const struct lurkd_conf_index *ix,
                                const struct lurkd_conf_loc **first,
                                const struct lurkd_conf_loc **second);

#endif
