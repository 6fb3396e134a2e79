// One firmware task per configured task, plus the program's own: the output writer, the
// signal handler, the stop timer of `--duration`, and on the mock board its stimuli and files.

import CLinux
import LoopConfig
import LoopCore
import LoopGPIO
import LoopLinux
import LoopTasks

extension Board {
  static func spawnTasks(
    _ config: BoardConfig, options: Options, _ firmware: inout Firmware<EpollPlatform>,
    _ files: inout OpenFiles, _ watchdogs: inout [(fd: Int32, disarm: Bool)]
  ) throws(StartupError) {
    let start = firmware.start
    var tasks: [FirmwareTask] = [.writer(OutputWriter()), .signals(SignalHandler())]
    if firmware.world.worker != nil { tasks.append(.worker(WorkerDispatch())) }
    if let duration = options.duration { tasks.append(.stopTimer(StopTimer(deadline: start + duration))) }
    if let period = SystemdNotify.watchdogPeriod() {
      tasks.append(
        .systemd(SystemdKeepalive(period: Duration(nanoseconds: period.nanoseconds / 2), start: start)))
    }
    if !firmware.world.stimuli.isFinished { tasks.append(.stimuli(StimulusTask())) }
    for file in config.simFiles.elements {
      var values = InlineArray<16, Int64>(repeating: 0)
      for k in 0..<file.values.count { values[k] = file.values[k] }
      tasks.append(
        .simFile(
          SimFileWriter(
            path: FilePath(file.path), values: values, count: file.values.count, repeats: file.repeats,
            start: start + file.at, every: file.every)))
    }
    for i in config.tasks.indices {
      let task = try task(i, config, start: start, &firmware.world, &files)
      if case .watchdog(let c) = config.tasks[i].kind { watchdogs.append((files.lastFD, c.disarmOnExit)) }
      tasks.append(task)
    }
    for task in tasks {
      do { try firmware.spawn(task) } catch {
        throw StartupError("sensorloop: too many tasks for the executor's slots")
      }
    }
  }

  static func task(
    _ index: Int, _ config: BoardConfig, start: Instant, _ world: inout FirmwareWorld,
    _ files: inout OpenFiles
  ) throws(StartupError) -> FirmwareTask {
    switch config.tasks[index].kind {
    case .heartbeat(let c):
      var steps = InlineArray<8, Duration>(repeating: .zero)
      for k in 0..<min(c.pattern.count, 8) { steps[k] = c.pattern[k] }
      guard let pattern = BlinkPattern(steps, count: min(c.pattern.count, 8), start: start) else {
        throw StartupError("sensorloop: heartbeat: a pattern needs 2 to 8 positive steps")
      }
      return .heartbeat(Heartbeat(index: index, line: c.line, pattern: pattern))
    case .button(let c):
      return .button(Button(index: index, line: c.line, longPress: c.longPress))
    case .pulseCounter(let c):
      return .pulseCounter(
        PulseCounter(
          index: index, line: c.line, window: c.window, scale: c.scale.double, unit: ShortName(c.unit),
          start: start))
    case .sampler(let c):
      return .sampler(
        Sampler(
          index: index, path: FilePath(c.path), period: c.period, scale: c.scale.double,
          offset: c.offset.double,
          unit: ShortName(c.unit), start: start))
    case .encoder(let c):
      let a = world.initialLevel(ofInput: c.lineA) ?? false
      let b = world.initialLevel(ofInput: c.lineB) ?? false
      return .encoder(
        Encoder(index: index, lineA: c.lineA, lineB: c.lineB, stepsPerDetent: c.stepsPerDetent, a: a, b: b))
    case .threshold(let c):
      return .threshold(
        ThresholdSwitch(
          index: index, source: c.source, line: c.line, onAbove: c.onAbove.double, offBelow: c.offBelow.double
        ))
    case .watchdog(let c):
      let fd: Int32
      do {
        let device = try c.device.withCString { (p) throws(Errno) in
          try FileDescriptor.open(cString: p, .writeOnly | .create)
        }
        fd = files.keep(device)
      } catch {
        var e = StartupError("sensorloop: cannot open the watchdog ")
        e.add(c.device)
        e.add(errno: error)
        throw e
      }
      return .watchdog(
        Watchdog(
          index: index, device: fd, kick: c.kick, stall: c.stall, watched: c.watched & periodicTasks(config),
          start: start))
    case .ticker(let c):
      return .ticker(TickerTask(index: index, period: c.period, start: start))
    case .pwm(let c):
      return .pwm(
        SoftwarePWM(index: index, line: c.line, period: c.period, dutyPercent: c.dutyPercent, start: start))
    }
  }

  /// The tasks with periodic work, one bit per task index. Only these can be seen to stall: a
  /// button, an encoder or a threshold waits for input and may rightly stay idle for days, so
  /// watching them would stop the kicks (and reset the board) whenever nobody touches it.
  static func periodicTasks(_ config: BoardConfig) -> UInt64 {
    var mask: UInt64 = 0
    for i in config.tasks.indices {
      switch config.tasks[i].kind {
      case .heartbeat, .pulseCounter, .sampler, .ticker, .pwm: mask |= 1 << UInt64(i)
      case .button, .encoder, .threshold, .watchdog: break
      }
    }
    return mask
  }

  /// Runs until a stop; prints the summary on SIGUSR1 and at the end; flushes the output.
  static func run(_ firmware: inout Firmware<EpollPlatform>, watchdogs: [(fd: Int32, disarm: Bool)]) -> Int32
  {
    // Startup ends with every task's first poll (on a host build that also instantiates the
    // Swift runtime's type metadata, once). Tell systemd, then count allocations from here on.
    firmware.executor.runUntilStalled(&firmware.world)
    _ = firmware.world.notifySystemd(watchdog: false)
    var before: UInt64 = 0
    let counting = cl_alloc_count(&before) != 0
    while true {
      let requests = firmware.runUntilRequest()
      if requests.summary && !requests.shutdown {
        firmware.writeSummary(
          to: 2, now: firmware.executor.platform.now(), loop: firmware.executor.platform.counters)
        continue
      }
      break
    }
    var after: UInt64 = 0
    _ = cl_alloc_count(&after)
    firmware.world.notifySystemdStopping()
    _ = firmware.flushOutput()
    for (fd, disarm) in watchdogs where disarm { _ = Watchdog.write(fd, "V") }
    firmware.writeSummary(
      to: 2, now: firmware.executor.platform.now(), loop: firmware.executor.platform.counters)
    if counting {
      // Only with the allocation counter preloaded (see README: proving the loop allocates nothing).
      var out = TextWriter(fd: 2)
      out.append("heap allocations after startup: ")
      out.append(integer: Int64(after &- before))
      out.append("\n")
      out.flush()
    }
    return 0
  }
}
