import CNcursesw
import ConsoleApp
import ConsoleUI
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The one place that calls curses: puts a terminal in application mode, writes the cells that
/// changed since the last frame, and reads keys. Not thread-safe: one thread owns it.
public final class CursesScreen {
    public private(set) var width: Int
    public private(set) var height: Int
    public let palette: Palette
    public let unicode: Bool
    private var previous: CellBuffer?
    private var pairs: [Int64: Int32] = [:]
    private let screen: OpaquePointer
    /// The stream the terminal is written to (for sequences curses does not know, e.g. OSC 52).
    private let output: UnsafeMutablePointer<FILE>
    /// `AGENTOS_FRAME_DUMP`: a file that holds the text of the last frame drawn, for a bug report
    /// ("the screen shows X where the console drew Y") and the test that replays frames in both
    /// locales and compares the terminal's screen with it.
    private let frameDump = ProcessInfo.processInfo.environment["AGENTOS_FRAME_DUMP"].map { URL(fileURLWithPath: $0) }

    public enum Failure: Error, CustomStringConvertible {
        case noTerminal(String)
        public var description: String {
            switch self {
            case .noTerminal(let why): return why
            }
        }
    }

    /// `monochrome` forces attributes only (NO_COLOR); `theme` maps the tokens to colours at the
    /// depth the terminal offers.
    public convenience init(theme: Theme = .builtinDefault, monochrome: Bool = false, mouse: Bool = false) throws {
        setlocale(LC_ALL, "")
        guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else {
            throw Failure.noTerminal("the console needs a terminal on stdin and stdout (use `agentos snapshot` in scripts)")
        }
        try self.init(output: agentos_stdout(), input: agentos_stdin(), terminal: nil, theme: theme, monochrome: monochrome, mouse: mouse)
    }

    /// Curses on any pair of streams, `terminal` naming the terminfo entry (nil: $TERM). The tests
    /// use a file as the output to read back the exact bytes a frame becomes.
    public init(
        output: UnsafeMutablePointer<FILE>, input: UnsafeMutablePointer<FILE>, terminal: String?,
        theme: Theme = .builtinDefault, monochrome: Bool = false, mouse: Bool = false
    ) throws {
        let codeset = String(cString: nl_langinfo(nl_item(CODESET)))
        unicode = codeset.uppercased().replacingOccurrences(of: "-", with: "") == "UTF8"
        guard let s = newterm(terminal, output, input) else {
            throw Failure.noTerminal("cannot initialise the terminal (TERM=\(terminal ?? ProcessInfo.processInfo.environment["TERM"] ?? "unset"))")
        }
        screen = s
        self.output = output
        _ = set_term(s)
        cbreak()
        noecho()
        nonl()
        _ = keypad(agentos_stdscr(), true)
        _ = nodelay(agentos_stdscr(), true)
        _ = set_escdelay(25)
        _ = curs_set(0)
        if mouse {
            // Opt-in: while the console has the mouse, the terminal's own selection needs Shift.
            _ = mousemask(agentos_mouse_mask(), nil)
            _ = mouseinterval(200)
        }
        var depth = ColorDepth.monochrome
        if !monochrome && !theme.monochrome && has_colors() {
            start_color()
            _ = use_default_colors()
            depth = ColorDepth.from(colors: Int(agentos_colors()))
        }
        palette = Palette(theme: theme, depth: depth)
        width = Int(getmaxx(agentos_stdscr()))
        height = Int(getmaxy(agentos_stdscr()))
    }

    /// Puts `text` on the clipboard of the terminal (and of the one SSH came from): OSC 52 with
    /// the text in base64, written after curses' last frame so it lands between two frames.
    public func copyToClipboard(_ text: String) {
        let sequence = "\u{1b}]52;c;\(Data(text.utf8).base64EncodedString())\u{07}"
        _ = fflush(output)
        _ = fputs(sequence, output)
        _ = fflush(output)
    }

    deinit {
        endwin()
        delscreen(screen)
    }

    /// Leaves curses mode (restores the terminal).
    public func shutdown() {
        endwin()
    }

    public func refreshSize() {
        width = Int(getmaxx(agentos_stdscr()))
        height = Int(getmaxy(agentos_stdscr()))
        previous = nil
        _ = clearok(agentos_stdscr(), true)
    }

    /// Writes the cells that differ from the previous frame and flushes once. Returns the number of cells written.
    @discardableResult
    public func draw(_ buffer: CellBuffer) -> Int {
        let changes = buffer.changes(since: previous)
        let win = agentos_stdscr()
        var wide = [wchar_t](repeating: 0, count: 8)
        for (x, y, cell) in changes {
            // The last cell of the screen would scroll on some terminals: curses handles it, but skip a wide char there.
            let ink = palette.ink(for: cell.style)
            var pair = self.pair(ink.fg, ink.bg)
            var attrs = agentos_a_normal()
            if ink.attrs.contains(.bold) { attrs |= agentos_a_bold() }
            if ink.attrs.contains(.dim) { attrs |= agentos_a_dim() }
            if ink.attrs.contains(.underline) { attrs |= agentos_a_underline() }
            if ink.attrs.contains(.reverse) { attrs |= agentos_a_reverse() }
            if ink.attrs.contains(.italic) { attrs |= agentos_a_italic() }
            var n = 0
            for scalar in cell.character.unicodeScalars where n < 6 {
                wide[n] = wchar_t(bitPattern: scalar.value)
                n += 1
            }
            if n == 0 {
                wide[0] = 32
                n = 1
            }
            wide[n] = 0
            var cc = cchar_t()
            _ = wide.withUnsafeBufferPointer { w in setcchar(&cc, w.baseAddress, attrs, 0, &pair) }
            _ = mvwadd_wch(win, Int32(y), Int32(x), &cc)
        }
        _ = wnoutrefresh(win)
        _ = doupdate()
        previous = buffer
        if let frameDump { try? Data(buffer.text().utf8).write(to: frameDump, options: .atomic) }
        return changes.count
    }

    private func pair(_ fg: Int, _ bg: Int) -> Int32 {
        if palette.depth == .monochrome || (fg == -1 && bg == -1) { return 0 }
        let key = Int64(fg) << 32 | Int64(UInt32(bitPattern: Int32(bg)))
        if let p = pairs[key] { return p }
        let p = alloc_pair(Int32(fg), Int32(bg))
        let value = p < 0 ? 0 : p
        pairs[key] = value
        return value
    }

    /// The next key, if one is waiting (non-blocking).
    public func readKey() -> Key?? {
        var ch: wint_t = 0
        let rc = wget_wch(agentos_stdscr(), &ch)
        if rc == ERR { return nil }
        if rc == agentos_key_code_yes() {
            switch Int32(ch) {
            case KEY_UP: return .some(.up)
            case KEY_DOWN: return .some(.down)
            case KEY_LEFT: return .some(.left)
            case KEY_RIGHT: return .some(.right)
            case KEY_NPAGE: return .some(.pageDown)
            case KEY_PPAGE: return .some(.pageUp)
            case KEY_HOME: return .some(.home)
            case KEY_END: return .some(.end)
            case KEY_ENTER: return .some(.enter)
            case KEY_BACKSPACE: return .some(.backspace)
            case KEY_DC: return .some(.delete)
            case KEY_BTAB: return .some(.backTab)
            case KEY_RESIZE: return .some(nil) // caller refreshes the size
            case KEY_MOUSE:
                var event = MEVENT()
                guard getmouse(&event) == OK else { return .some(nil) }
                let action: Mouse.Action
                switch agentos_mouse_kind(event.bstate) {
                case 4: action = .wheelUp
                case 5: action = .wheelDown
                case 2: action = .doubleClick
                case 1: action = .click
                default: return .some(nil)
                }
                return .some(.mouse(Mouse(action, x: Int(event.x), y: Int(event.y))))
            default:
                let f0 = agentos_key_f(0)
                if Int32(ch) > f0 && Int32(ch) <= f0 + 24 { return .some(.function(Int(Int32(ch) - f0))) }
                return .some(nil)
            }
        }
        switch ch {
        case 10, 13: return .some(.enter)
        case 27: return .some(.escape)
        case 9: return .some(.tab)
        case 127, 8: return .some(.backspace)
        case 1...26: return .some(.ctrl(Character(Unicode.Scalar(UInt8(ch) + 96))))
        default:
            guard let scalar = Unicode.Scalar(UInt32(ch)) else { return .some(nil) }
            return .some(.char(Character(scalar)))
        }
    }
}
