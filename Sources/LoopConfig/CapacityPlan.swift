// The capacity plan `sensorloop --check` prints: how much of each fixed capacity a config
// uses. The validator refuses a config whose plan exceeds a limit, so a config that loads
// can always start. The counting rules live here; what each task kind holds is said by the
// kind (`TaskKindDescription.needs`).

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

  /// Executor slots: each task; the output writer, signal handler, `--duration` stop timer
  /// and systemd keepalive; on the simulated board the stimulus driver and one writer per sim
  /// file.
  public var slots: Row
  /// Timer deadlines: each task that waits on time (every kind but encoder, threshold and switch),
  /// the stop timer, the systemd keepalive, the stimulus driver, each sim file writer.
  public var timers: Row
  /// Entries in `lines`.
  public var lines: Row
  /// File descriptors held at once: the platform's six (with the worker threads' eventfds);
  /// systemd's notification socket; on a real chip the lookup chip and two per line (libgpiod
  /// v1: the line's own chip fd and its request fd), on the mock chip a pipe and a duplicate per
  /// input; the watchdog device; an output file; one per worker thread for samplers and sim
  /// files, which open their file only while reading or writing it.
  public var fds: Row
  /// Interrupt lines: the program's reserved ones, then one per line (by index).
  public var interrupts: Row
  /// The output ring's size in bytes (a fixed allocation at startup, not a limit).
  public var ringBytes: Int
  /// The MQTT client's buffers, when the config has an `mqtt` section (one mapping at startup).
  public var mqtt: MQTTConfig?

  /// The rows in printing order.
  public var rows: [Row] { [slots, timers, lines, fds, interrupts] }

  /// How many rows there are.
  static let rowCount = 5

  /// Row `index` of `rows` (the binary walks the rows by index: no array).
  func row(_ index: Int) -> Row {
    switch index {
    case 0: slots
    case 1: timers
    case 2: lines
    case 3: fds
    default: interrupts
    }
  }

  /// The plan for `config`.
  public init(_ config: borrowing BoardConfig) {
    // What each task holds is said by its kind (`TaskKindDescription.needs`, Kinds/*.swift).
    var timed = 0
    var taskFds = 0
    var transient = !config.simFiles.isEmpty
    for index in config.tasks.indices {
      let task = config.tasks[index]
      let needs = task.kind.needs
      if needs.timer { timed += 1 }
      taskFds += needs.fds
      if needs.fileReads { transient = true }
    }
    var inputs = 0
    for index in config.lines.indices where config.lines[index].direction == .input { inputs += 1 }
    var outputFiles = 0
    if case .file = config.output.target { outputFiles = 1 }
    let lineFds =
      config.simulated
      ? ConfigLimits.mockInputFds * inputs
      : ConfigLimits.realChipFds + ConfigLimits.realLineFds * config.lines.count
    let simTasks = (config.stimuli.isEmpty ? 0 : 1) + config.simFiles.count
    // The MQTT task: one slot, one timer (keepalive, backoff), its socket and its readiness epoll.
    // `if case`, not `== nil`: that compared the whole MQTTConfig (Equatable) with nil.
    var mqttTasks = 0
    if case .some = config.mqtt { mqttTasks = 1 }
    slots = Row(
      name: "slots", used: config.tasks.count + ConfigLimits.systemTasks + simTasks + mqttTasks,
      limit: ConfigLimits.maxSlots,
      rule:
        "one per task, 6 for sensorloop, 1 for mqtt, on the mock board 1 for the stimuli and one per sim file"
    )
    timers = Row(
      name: "timers", used: timed + ConfigLimits.systemTimers + simTasks + mqttTasks,
      limit: ConfigLimits.maxTimers,
      rule:
        "one per task but encoders, thresholds and switches, 2 for --duration and systemd, 1 for mqtt, one per sim driver"
    )
    lines = Row(name: "lines", used: config.lines.count, limit: ConfigLimits.maxLines, rule: "one per line")
    fds = Row(
      name: "fds",
      used: ConfigLimits.platformFds + ConfigLimits.systemdFds + lineFds + taskFds + outputFiles
        + (transient ? ConfigLimits.workerThreads : 0) + ConfigLimits.mqttFds * mqttTasks,
      limit: ConfigLimits.maxFds,
      rule:
        "6 for the platform and its workers, 1 for systemd, the chip and two per line (3 per mock input), the watchdog device, an output file, 2 for file reads (one per worker thread), 2 for mqtt"
    )
    interrupts = Row(
      name: "interrupts", used: ConfigLimits.systemInterrupts + config.lines.count,
      limit: ConfigLimits.maxInterrupts, rule: "8 for sensorloop, one per line")
    ringBytes = config.output.ringBytes
    mqtt = config.mqtt
  }

  /// Appends the plan as text, one `name  used of limit` line per capacity.
  public func render(into out: inout [UInt8]) {
    for index in 0..<CapacityPlan.rowCount {
      let row = row(index)
      out.append(row.name)
      for _ in row.name.utf8CodeUnitCount..<12 { out.append(byte: UInt8(ascii: " ")) }
      out.appendDecimal(row.used)
      out.append(" of ")
      out.appendDecimal(row.limit)
      out.append(byte: UInt8(ascii: "\n"))
    }
    out.append("ring bytes  ")
    out.appendDecimal(ringBytes)
    out.append(byte: UInt8(ascii: "\n"))
    if let m = mqtt {
      // The client's one mapping, region by region (Sources/LoopMQTT/Client.swift's layout).
      out.append("mqtt bytes  ")
      out.appendDecimal(m.mappingBytes)
      out.append(" (send ")
      out.appendDecimal(m.sendBufferBytes)
      out.append(", receive ")
      out.appendDecimal(m.receiveBufferBytes)
      out.append(", inbox ")
      out.appendDecimal(m.inboxBytes)
      out.append(", window ")
      out.appendDecimal(m.window)
      out.append(" x ")
      out.appendDecimal(MQTTConfig.windowPacketBytes)
      out.append(", strings ")
      out.appendDecimal(MQTTConfig.stringBytes)
      out.append(")\n")
    }
  }
}
