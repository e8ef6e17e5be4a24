#ifndef AGENTOS_CNCURSESW_SHIM_H
#define AGENTOS_CNCURSESW_SHIM_H
// The wide-character API needs these before <curses.h>; SwiftPM drops -D flags from pkg-config.
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif
#include <locale.h>
#include <wchar.h>
#include <stdio.h>
#include <ncursesw/curses.h>

// C globals and macros Swift 6 cannot import, exposed as functions.
static inline WINDOW *agentos_stdscr(void) { return stdscr; }
static inline int agentos_lines(void) { return LINES; }
static inline int agentos_cols(void) { return COLS; }
static inline int agentos_colors(void) { return COLORS; }
static inline int agentos_color_pairs(void) { return COLOR_PAIRS; }
static inline attr_t agentos_a_normal(void) { return A_NORMAL; }
static inline attr_t agentos_a_bold(void) { return A_BOLD; }
static inline attr_t agentos_a_dim(void) { return A_DIM; }
static inline attr_t agentos_a_underline(void) { return A_UNDERLINE; }
static inline attr_t agentos_a_reverse(void) { return A_REVERSE; }
static inline attr_t agentos_a_blink(void) { return A_BLINK; }
static inline attr_t agentos_a_italic(void) { return A_ITALIC; }
static inline int agentos_key_f(int n) { return KEY_F(n); }
static inline FILE *agentos_stdout(void) { return stdout; }
static inline FILE *agentos_stdin(void) { return stdin; }
static inline int agentos_key_code_yes(void) { return KEY_CODE_YES; }
// Mouse (opt-in): the masks are macros.
static inline mmask_t agentos_mouse_mask(void) {
    return BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON1_DOUBLE_CLICKED | BUTTON4_PRESSED | BUTTON5_PRESSED;
}
static inline int agentos_mouse_kind(mmask_t state) {
    if (state & BUTTON4_PRESSED) return 4;             // wheel up
    if (state & BUTTON5_PRESSED) return 5;             // wheel down
    if (state & BUTTON1_DOUBLE_CLICKED) return 2;
    if (state & (BUTTON1_CLICKED | BUTTON1_PRESSED)) return 1;
    return 0;
}
// wcwidth is not visible through Swift's Glibc module.
int wcwidth(wchar_t c);
static inline int agentos_wcwidth(wchar_t c) { return wcwidth(c); }
#endif
