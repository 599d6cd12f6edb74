/* Deadline heap; see timer.h. */
#include "timer.h"

#include <stdlib.h>

void lurkd_timer_init(struct lurkd_timer *t)
{
    t->deadline_ms = 0;
    t->index = LURKD_TIMER_IDLE;
}

bool lurkd_timer_armed(const struct lurkd_timer *t)
{
    return t->index != LURKD_TIMER_IDLE;
}

static void place(struct lurkd_timer_heap *h, size_t i, struct lurkd_timer *t)
{
    h->items[i] = t;
    t->index = i;
}

static void sift_up(struct lurkd_timer_heap *h, size_t i)
{
    struct lurkd_timer *t = h->items[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->items[parent]->deadline_ms <= t->deadline_ms)
            break;
        place(h, i, h->items[parent]);
        i = parent;
    }
    place(h, i, t);
}

static void sift_down(struct lurkd_timer_heap *h, size_t i)
{
    struct lurkd_timer *t = h->items[i];

    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->n)
            break;
        if (child + 1 < h->n && h->items[child + 1]->deadline_ms < h->items[child]->deadline_ms)
            child++;
        if (t->deadline_ms <= h->items[child]->deadline_ms)
            break;
        place(h, i, h->items[child]);
        i = child;
    }
    place(h, i, t);
}

bool lurkd_timer_set(struct lurkd_timer_heap *h, struct lurkd_timer *t, int64_t deadline_ms)
{
    if (lurkd_timer_armed(t)) {
        int64_t old = t->deadline_ms;
        t->deadline_ms = deadline_ms;
        if (deadline_ms < old)
            sift_up(h, t->index);
        else
            sift_down(h, t->index);
        return true;
    }
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        struct lurkd_timer **items = realloc(h->items, cap * sizeof(*items));
        if (items == NULL)
            return false;
        h->items = items;
        h->cap = cap;
    }
    t->deadline_ms = deadline_ms;
    place(h, h->n++, t);
    sift_up(h, t->index);
    return true;
}

void lurkd_timer_cancel(struct lurkd_timer_heap *h, struct lurkd_timer *t)
{
    size_t i = t->index;

    if (!lurkd_timer_armed(t))
        return;
    t->index = LURKD_TIMER_IDLE;
    if (--h->n == i)
        return;
    /* The last item fills the hole, then moves whichever way its deadline says. */
    place(h, i, h->items[h->n]);
    if (i > 0 && h->items[(i - 1) / 2]->deadline_ms > h->items[i]->deadline_ms)
        sift_up(h, i);
    else
        sift_down(h, i);
}

struct lurkd_timer *lurkd_timer_first(const struct lurkd_timer_heap *h)
{
    return h->n > 0 ? h->items[0] : NULL;
}

void lurkd_timer_heap_free(struct lurkd_timer_heap *h)
{
    free(h->items);
    h->items = NULL;
    h->n = h->cap = 0;
}
