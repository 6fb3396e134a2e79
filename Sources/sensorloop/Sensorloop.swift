// sensorloop: load a board.json, wire its tasks to GPIO lines, files and the output, run them
// on the executor until a signal or `--duration` stops them, then flush and print a summary.
//
// Startup may allocate (the config reader does); once `run` begins nothing is allocated.
// Exit codes: 0 clean stop, 1 the environment refused (GPIO, files, fds), 2 bad usage/config.

import CLinux
import LoopConfig
import LoopCore
import LoopGPIO
import LoopLinux
import LoopTasks

/// The program's version, printed by `--version`.
let version: StaticString = "sensorloop 0.1.0"

@main
struct Sensorloop {
  static func main() {
    cl_exit(run())
  }

  static func run() -> Int32 {
    Board.blockSignals()
    let options: Options
    switch Options.parse() {
    case .run(let parsed): options = parsed
    case .exit(let code): return code
    }
    let config: BoardConfig
    do {
      config = try loadBoardConfig(cString: options.configPath!)
    } catch {
      var message: [UInt8] = []
      error.render(into: &message)
      writeLine(2, "", message)
      return 2
    }
    if options.checkOnly {
      var plan: [UInt8] = []
      CapacityPlan(config).render(into: &plan)
      writeAll(1, plan)
      return 0
    }
    return Board.start(config, options: options)
  }
}

/// What the command line asked for.
struct Options {
  var configPath: UnsafePointer<CChar>?
  var checkOnly = false
  var duration: Duration?

  enum Parsed {
    case run(Options)
    case exit(Int32)
  }

  static let usage: StaticString = """
    usage: sensorloop --config FILE [--check] [--duration SECONDS]
           sensorloop --version | --help

      --config FILE         the board description (board.json; see Boards/README.md)
      --check               validate the config, print the capacity plan, and exit
      --duration SECONDS    run for this long, then stop cleanly (decimals allowed)
      --version             print the version
      --help                print this help

    Records go to stdout (or the config's output file), one JSON object per line.
    SIGINT/SIGTERM stop cleanly with a summary on stderr; SIGUSR1 prints the summary;
    SIGHUP reloads the config file (a broken one is reported and the running config stays).

    """

  static func parse() -> Parsed {
    let argc = Int(cl_argc())
    let argv = cl_argv()!
    var config: UnsafePointer<CChar>?
    var options = Options(configPath: nil)
    var i = 1
    while i < argc {
      let arg = argv[i]!
      if matches(arg, "--help") || matches(arg, "-h") {
        writeAll(1, usage)
        return .exit(0)
      } else if matches(arg, "--version") {
        writeAll(1, version)
        writeAll(1, "\n")
        return .exit(0)
      } else if matches(arg, "--check") {
        options.checkOnly = true
      } else if matches(arg, "--config") || matches(arg, "--duration") {
        guard i + 1 < argc, let value = argv[i + 1] else {
          return fail("option ", arg, " needs a value")
        }
        if matches(arg, "--config") {
          config = UnsafePointer(value)
        } else {
          guard let seconds = parseSeconds(value) else {
            return fail("--duration: expected a number of seconds > 0, found \"", value, "\"")
          }
          options.duration = seconds
        }
        i += 1
      } else {
        return fail("unknown argument \"", arg, "\"")
      }
      i += 1
    }
    guard let config else { return fail("missing --config FILE", nil, "") }
    options.configPath = config
    return .run(options)
  }

  /// Prints `sensorloop: <before><arg><after>` and the usage to stderr; exit code 2.
  @inline(never)
  static func fail(_ before: StaticString, _ arg: UnsafePointer<CChar>?, _ after: StaticString) -> Parsed {
    var out = TextWriter(fd: 2)
    out.append("sensorloop: ")
    out.append(before)
    if let arg { out.append(cString: arg) }
    out.append(after)
    out.append("\n\n")
    out.append(usage)
    out.flush()
    return .exit(2)
  }

  static func matches(_ arg: UnsafePointer<CChar>, _ literal: StaticString) -> Bool {
    let bytes = literal.utf8Start
    for i in 0..<literal.utf8CodeUnitCount where UInt8(bitPattern: arg[i]) != bytes[i] { return false }
    return arg[literal.utf8CodeUnitCount] == 0
  }

  /// Parses `12`, `2.5`, `0.25` seconds; nil unless a positive number below ten years.
  static func parseSeconds(_ text: UnsafePointer<CChar>) -> Duration? {
    var nanoseconds: Int64 = 0
    var i = 0
    var digits = 0
    while text[i] >= 0x30 && text[i] <= 0x39 {
      nanoseconds = nanoseconds * 10 + Int64(text[i] - 0x30) * 1_000_000_000
      digits += 1
      i += 1
      if digits > 9 { return nil }
    }
    if text[i] == 0x2E {
      i += 1
      var place: Int64 = 100_000_000
      while text[i] >= 0x30 && text[i] <= 0x39 {
        nanoseconds += Int64(text[i] - 0x30) * place
        place /= 10
        digits += 1
        i += 1
      }
    }
    guard text[i] == 0, digits > 0, nanoseconds > 0 else { return nil }
    return Duration(nanoseconds: nanoseconds)
  }
}

/// Writes all of `bytes` to `fd` (startup and shutdown messages; blocking).
func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
  var out = TextWriter(fd: fd)
  for byte in bytes { out.append(byte: byte) }
  out.flush()
}

/// Writes `prefix`, `bytes` and a newline to `fd` (the startup and reload messages; blocking).
@inline(never)
func writeLine(_ fd: Int32, _ prefix: StaticString, _ bytes: [UInt8]) {
  var out = TextWriter(fd: fd)
  out.append(prefix)
  for byte in bytes { out.append(byte: byte) }
  out.append("\n")
  out.flush()
}

/// Writes a literal to `fd`.
func writeAll(_ fd: Int32, _ text: StaticString) {
  var out = TextWriter(fd: fd)
  out.append(text)
  out.flush()
}

extension TextWriter {
  /// Appends a NUL-terminated C string.
  mutating func append(cString: UnsafePointer<CChar>) {
    var i = 0
    while cString[i] != 0 {
      append(byte: UInt8(bitPattern: cString[i]))
      i += 1
    }
  }
}
