/* The line index of a config file; see config_scan.h. */
#include "conf/config_scan.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* Includes nest no deeper than this (NCONF itself refuses loops by depth too). */
#define MAX_DEPTH 8

static char *trim(char *s)
{
    char *e;

    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static bool add_loc(struct lurkd_conf_index *ix, const char *file, int line, const char *section,
                    const char *name)
{
    struct lurkd_conf_loc *grown = realloc(ix->locs, (ix->n + 1) * sizeof(*ix->locs));

    if (grown == NULL)
        return false;
    ix->locs = grown;
    ix->locs[ix->n] = (struct lurkd_conf_loc){
        .file = file,
        .line = line,
        .section = strdup(section),
        .name = name ? strdup(name) : NULL,
    };
    if (ix->locs[ix->n].section == NULL || (name != NULL && ix->locs[ix->n].name == NULL)) {
        free(ix->locs[ix->n].section);
        free(ix->locs[ix->n].name);
        return false;
    }
    ix->n++;
    return true;
}

static const char *add_file(struct lurkd_conf_index *ix, const char *path)
{
    char **grown = realloc(ix->files, (ix->n_files + 1) * sizeof(*ix->files));

    if (grown == NULL)
        return NULL;
    ix->files = grown;
    ix->files[ix->n_files] = strdup(path);
    return ix->files[ix->n_files] ? ix->files[ix->n_files++] : NULL;
}

static bool scan_file(struct lurkd_conf_index *ix, const char *path, char *section, size_t seclen,
                      int depth);

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * An included directory: NCONF reads its files whose names end in .cnf or
 * .conf (in directory order; sorted here, the index does not depend on it).
 */
static bool scan_dir(struct lurkd_conf_index *ix, const char *dir, char *section, size_t seclen,
                     int depth)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0;
    bool ok = true;

    if (d == NULL)
        return true;
    while (ok && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (!((len > 4 && strcasecmp(e->d_name + len - 4, ".cnf") == 0) ||
              (len > 5 && strcasecmp(e->d_name + len - 5, ".conf") == 0)))
            continue;
        char **grown = realloc(names, (n + 1) * sizeof(*names));
        if (grown == NULL || (grown[n] = strdup(e->d_name)) == NULL) {
            if (grown != NULL)
                names = grown;
            ok = false;
            break;
        }
        names = grown;
        n++;
    }
    closedir(d);
    if (names != NULL)
        qsort(names, n, sizeof(*names), name_cmp);
    for (size_t i = 0; i < n; i++) {
        char *full = NULL;
        if (ok && asprintf(&full, "%s/%s", dir, names[i]) >= 0)
            ok = scan_file(ix, full, section, seclen, depth + 1);
        else
            ok = false;
        free(full);
        free(names[i]);
    }
    free(names);
    return ok;
}

/* ".include PATH" or ".include = PATH": as NCONF, relative to OPENSSL_CONF_INCLUDE if set. */
static bool scan_include(struct lurkd_conf_index *ix, const char *target, char *section,
                         size_t seclen, int depth)
{
    const char *base = getenv("OPENSSL_CONF_INCLUDE");
    char *full = NULL;
    struct stat st;
    bool ok;

    if (*target == '/' || base == NULL)
        full = strdup(target);
    else if (asprintf(&full, "%s/%s", base, target) < 0)
        full = NULL;
    if (full == NULL)
        return false;
    if (stat(full, &st) == 0 && S_ISDIR(st.st_mode))
        ok = scan_dir(ix, full, section, seclen, depth);
    else
        ok = scan_file(ix, full, section, seclen, depth + 1);
    free(full);
    return ok;
}

/* The section carries over from a file into what it includes, as in NCONF. */
static bool scan_file(struct lurkd_conf_index *ix, const char *path, char *section, size_t seclen,
                      int depth)
{
    FILE *f;
    const char *file;
    char buf[4096];
    int line = 0;
    bool ok = true;

    if (depth > MAX_DEPTH || (f = fopen(path, "r")) == NULL)
        return true;
    file = add_file(ix, path);
    if (file == NULL) {
        fclose(f);
        return false;
    }
    while (ok && fgets(buf, sizeof(buf), f) != NULL) {
        char *hash = strchr(buf, '#'), *s;
        line++;
        if (hash != NULL)
            *hash = '\0';
        s = trim(buf);
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (close != NULL) {
                *close = '\0';
                snprintf(section, seclen, "%s", trim(s + 1));
                ok = add_loc(ix, file, line, section, NULL);
            }
            continue;
        }
        if (strncmp(s, ".include", 8) == 0 && (isspace((unsigned char)s[8]) || s[8] == '=')) {
            char *target = trim(s + 8);
            if (*target == '=')
                target = trim(target + 1);
            ok = scan_include(ix, target, section, seclen, depth);
            continue;
        }
        if (*s == '.')
            continue; /* .pragma */
        char *eq = strchr(s, '=');
        if (eq == NULL)
            continue;
        *eq = '\0';
        ok = add_loc(ix, file, line, section, trim(s));
    }
    fclose(f);
    return ok;
}

bool lurkd_conf_index_build(struct lurkd_conf_index *ix, const char *path)
{
    char section[256] = "default";

    memset(ix, 0, sizeof(*ix));
    return scan_file(ix, path, section, sizeof(section), 0);
}

void lurkd_conf_index_free(struct lurkd_conf_index *ix)
{
    for (size_t i = 0; i < ix->n; i++) {
        free(ix->locs[i].section);
        free(ix->locs[i].name);
    }
    for (size_t i = 0; i < ix->n_files; i++)
        free(ix->files[i]);
    free(ix->locs);
    free(ix->files);
    memset(ix, 0, sizeof(*ix));
}

const struct lurkd_conf_loc *lurkd_conf_index_find(const struct lurkd_conf_index *ix,
                                                   const char *section, const char *name)
{
    for (size_t i = 0; i < ix->n; i++) {
        const struct lurkd_conf_loc *l = &ix->locs[i];
        if (strcmp(l->section, section) != 0)
            continue;
        if (name == NULL ? l->name == NULL : l->name != NULL && strcmp(l->name, name) == 0)
            return l;
    }
    return NULL;
}

bool lurkd_conf_index_duplicate(const struct lurkd_conf_index *ix,
                                const struct lurkd_conf_loc **first,
                                const struct lurkd_conf_loc **second)
{
    for (size_t i = 0; i < ix->n; i++) {
        if (ix->locs[i].name == NULL)
            continue;
        for (size_t j = 0; j < i; j++) {
            if (ix->locs[j].name != NULL && strcmp(ix->locs[j].name, ix->locs[i].name) == 0 &&
                strcmp(ix->locs[j].section, ix->locs[i].section) == 0) {
                *first = &ix->locs[j];
                *second = &ix->locs[i];
                return true;
            }
        }
    }
    return false;
}
