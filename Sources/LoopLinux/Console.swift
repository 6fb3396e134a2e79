// Short lines on stdout for examples and small programs: a fixed buffer, one write(2) per line.
// A firmware's records go through a non-blocking ring instead (LoopTasks' output), which never
// waits for a slow reader; this is the `defmt::info!` of the examples.

import CLinux
import LoopCore

/// One line of console text: up to 126 bytes (more is cut and marked `truncated`).
public typealias ConsoleLine = FixedText<127>

/// Writes lines to stdout or stderr. Never allocates.
///
/// Each line is one `write(2)` of at most 127 bytes (the text and a newline), so lines from
/// several threads never interleave. It can block only if the fd is a blocking pipe or
/// terminal that is full (a few ms at a terminal); a non-blocking fd that is full drops the
/// line. Use it for examples and diagnostics, not for a firmware's data records.
public enum Console {
  /// Writes `line` and a newline to `fd` (1: stdout, 2:
  /// stderr) in one `write`; errors and a full non-blocking fd drop the line. The corresponding C function is `write`.
  public static func write(_ line: borrowing ConsoleLine, to fd: Int32 = 1) {
    var text = FixedText<128>(line)
    text.append(byte: 10)
    text.withBytes { bytes in
      // SAFETY: `bytes` lives for this closure; write(2) reads at most `bytes.count` of it.
      _ = cl_write(fd, bytes.baseAddress, bytes.count)
    }
  }

  /// Writes the literal `text` and a newline to `fd`.
  public static func write(_ text: StaticString, to fd: Int32 = 1) { write(ConsoleLine(text), to: fd) }
}
