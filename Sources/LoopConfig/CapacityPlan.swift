// The capacity plan `sensorloop --check` prints: how much of each fixed capacity a config
// uses. The validator refuses a config whose plan exceeds a limit, so a config that loads
// can always start. The counting rules (what each task kind holds) live here, in one place.

/// How much of each fixed capacity a config uses.
public struct CapacityPlan: Equatable, Sendable {
  /// One capacity: its name, how much is used, the limit.
  public struct Row: Equatable, Sendable {
    /// What is counted ("slots", "timers" ...), as printed.
    public var name: StaticString
    /// How many the config needs.
    public var used: Int
    /// How many exist.
    public var limit: Int
    /// What uses one, for messages.
    public var rule: StaticString

    public static func == (lhs: Row, rhs: Row) -> Bool {
      lhs.used == rhs.used && lhs.limit == rhs.limit
        && lhs.name.utf8CodeUnitCount == rhs.name.utf8CodeUnitCount
        && lhs.name.withUTF8Buffer { a in rhs.name.withUTF8Buffer { b in a.elementsEqual(b) } }
    }
  }

  /// Executor slots: configured tasks, the program's own tasks, and the sim driver.
  public var slots: Row
  /// Timer deadlines: tasks that wait on time (every kind but encoder and threshold), the
  /// sim driver.
  public var timers: Row
  /// Entries in `lines`.
  public var lines: Row
  /// File descriptors: the platform's four, the GPIO chip, one request per line, one per
  /// sampler file, the watchdog device, an output file.
  public var fds: Row
  /// Interrupt lines: one per input line plus the program's own.
  public var interrupts: Row
  /// The output ring's size in bytes (a fixed allocation at startup, not a limit).
  public var ringBytes: Int

  /// The rows in printing order.
  public var rows: [Row] { [slots, timers, lines, fds, interrupts] }

  /// The plan for `config`.
  public init(_ config: BoardConfig) {
    let simulated = !config.stimuli.isEmpty || !config.simFiles.isEmpty
    var timed = 0
    var files = 0
    for index in config.tasks.indices {
      switch config.tasks[index].kind {
      case .encoder, .threshold: break
      case .sampler, .watchdog:
        timed += 1
        files += 1
      default: timed += 1
      }
    }
    var inputs = 0
    for index in config.lines.indices where config.lines[index].direction == .input { inputs += 1 }
    var outputFiles = 0
    if case .file = config.output.target { outputFiles = 1 }
    let chipFds = config.chip == .mock ? 0 : 1
    slots = Row(
      name: "slots", used: config.tasks.count + ConfigLimits.systemTasks + (simulated ? 1 : 0),
      limit: ConfigLimits.maxSlots, rule: "one per task, 2 for sensorloop, 1 for the sim driver")
    timers = Row(
      name: "timers", used: timed + (simulated ? 1 : 0), limit: ConfigLimits.maxTimers,
      rule: "one per task but encoders and thresholds, 1 for the sim driver")
    lines = Row(name: "lines", used: config.lines.count, limit: ConfigLimits.maxLines, rule: "one per line")
    fds = Row(
      name: "fds", used: ConfigLimits.platformFds + chipFds + config.lines.count + files + outputFiles,
      limit: ConfigLimits.maxFds,
      rule: "4 for the platform, 1 for a real chip, one per line, sampler, watchdog and output file")
    interrupts = Row(
      name: "interrupts", used: inputs + ConfigLimits.systemInterrupts, limit: ConfigLimits.maxInterrupts,
      rule: "one per input line, 2 for sensorloop")
    ringBytes = config.output.ringBytes
  }

  /// Appends the plan as text, one `name  used of limit` line per capacity.
  public func render(into out: inout [UInt8]) {
    for row in rows {
      out.append(row.name)
      for _ in row.name.utf8CodeUnitCount..<12 { out.append(UInt8(ascii: " ")) }
      out.appendDecimal(row.used)
      out.append(" of ")
      out.appendDecimal(row.limit)
      out.append(UInt8(ascii: "\n"))
    }
    out.append("ring bytes  ")
    out.appendDecimal(ringBytes)
    out.append(UInt8(ascii: "\n"))
  }
}
