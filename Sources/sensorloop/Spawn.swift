// One firmware task per configured task, built by its kind (LoopConfig/Kinds/*.swift), plus
// the program's own: the output writer, the signal handler, the summary writer, the worker
// dispatcher, the stop timer of `--duration`, the systemd keepalive, and on the mock board
// its stimuli and files.

import CLinux
import LoopConfig
import LoopCore
import LoopGPIO
import LoopLinux
import LoopMQTT
import LoopTasks

extension Board {
  @inline(never)
  static func spawnTasks(
    _ config: BoardConfig, stopAt: Instant?, _ firmware: inout Firmware<EpollPlatform>,
    _ files: inout OpenFiles
  ) throws(StartupError) {
    let start = firmware.start
    // Each task goes to its slot as it is made, the program's own first (no array of tasks:
    // a `FirmwareTask` is moved once, not appended and copied out again). The config's slot
    // count is checked against the executor's (CapacityPlan), so no spawn fails before a build.
    do throws(StartupError) {
      try spawn(.writer(OutputWriter()), &firmware)
      try spawn(.signals(SignalHandler()), &firmware)
      try spawn(.summary(SummaryWriter()), &firmware)
      if firmware.world.worker != nil { try spawn(.worker(WorkerDispatch()), &firmware) }
      if let stopAt { try spawn(.stopTimer(StopTimer(deadline: stopAt)), &firmware) }
      if let period = SystemdNotify.watchdogPeriod() {
        try spawn(
          .systemd(SystemdKeepalive(period: Duration(nanoseconds: period.nanoseconds / 2), start: start)),
          &firmware)
      }
      if !firmware.world.stimuli.isFinished { try spawn(.stimuli(StimulusTask()), &firmware) }
      if firmware.world.mqtt != nil { try spawn(.mqtt(MQTTTask()), &firmware) }
      for f in 0..<config.simFiles.count {
        let file = config.simFiles[f]
        var values = InlineArray<16, Int64>(repeating: 0)
        for k in 0..<file.values.count { values[k] = file.values[k] }
        try spawn(
          .simFile(
            SimFileWriter(
              path: FilePath(file.path), values: values, count: file.values.count, repeats: file.repeats,
              start: start + file.at, every: file.every)), &firmware)
      }
      // Each kind builds its own task (LoopConfig/Kinds/*.swift). A task's name goes to the
      // world's table as it is built (a build's messages name it and the tasks before it).
      let periodic = config.periodicTasks
      for i in config.tasks.indices {
        let task = config.tasks[i]
        firmware.world.names[i] = ShortName(task.name)
        try spawn(
          try BoardConfig.buildTask(
            task.kind, index: i, start: start, periodicTasks: periodic, &firmware.world, &files),
          &firmware)
      }
    } catch {
      // Nothing runs: a watchdog opened so far (opening arms it) is disarmed before it is closed.
      for (fd, _) in files.watchdogs { _ = Watchdog.write(fd, "V") }
      firmware.world.releasePWMChannels()
      throw error
    }
  }

  /// Spawns `task` on the firmware's executor.
  @inline(never)
  static func spawn(_ task: consuming FirmwareTask, _ firmware: inout Firmware<EpollPlatform>)
    throws(StartupError)
  {
    do { try firmware.spawn(task) } catch {
      throw StartupError("sensorloop: too many tasks for the executor's slots")
    }
  }

  /// Runs until a stop or a reload; prints the summary on SIGUSR1, and at a stop, after
  /// flushing the output. Startup ends with every task's first poll (on a host build that
  /// also instantiates the Swift runtime's type metadata, once): then systemd hears READY=1
  /// and allocations are counted, unless a stop came first (a stop at any moment of startup
  /// is honoured: systemd then hears STOPPING=1 only).
  static func run(
    _ firmware: inout Firmware<EpollPlatform>, output: RecordOutput, watchdogs: [(fd: Int32, disarm: Bool)],
    _ program: inout Program
  ) -> RunOutcome {
    // The records a previous run left in the ring go out first, through this run's writer
    // (in the format they were made in; this run's records in this config's format).
    swap(&firmware.world.output, &program.carried)
    _ = firmware.world.output.takeWriter()
    firmware.world.output.limit = output.ringBytes
    firmware.world.output.format = output.format
    var requests = startupTurns(&firmware)
    if !requests.shutdown {
      _ = firmware.world.notifySystemd(watchdog: false)
      firmware.world.systemdReady = true
    }
    program.startCounting()
    while !requests.shutdown {
      if requests.summary {
        // Rendered now, written by the summary task: the loop never waits for stderr.
        firmware.requestSummary(
          now: firmware.executor.platform.now(), loop: firmware.executor.platform.counters)
      }
      if requests.reload {
        program.stopCounting()
        if let next = reload(&firmware, &program) {
          // The loop may have read more signals with the SIGHUP (latched, their handler not
          // yet polled) and more may have come while the file was read: they are taken now,
          // before this event loop goes away. A stop wins over the reload.
          firmware.executor.runUntilStalled(&firmware.world)
          let late = firmware.takeRequests()
          if late.shutdown { break }
          for (fd, disarm) in watchdogs where disarm { _ = Watchdog.write(fd, "V") }
          stopMQTT(&firmware)
          // Records go to the output they were made for when it takes them within a moment
          // (the new config may name another); what it does not take is carried over.
          deliverSummary(&firmware, final: late.summary, within: .milliseconds(100))
          swap(&firmware.world.output, &program.carried)
          return .reload(next)
        }
        program.startCounting()
      }
      requests = firmware.runUntilRequest()
    }
    program.stopCounting()
    firmware.world.notifySystemdStopping()
    for (fd, disarm) in watchdogs where disarm { _ = Watchdog.write(fd, "V") }
    stopMQTT(&firmware)
    deliverSummary(&firmware, final: true, within: .milliseconds(500))
    if countingAvailable() {
      // Only with the allocation counter preloaded (see README: proving the loop allocates nothing).
      var out = TextWriter(fd: 2)
      out.append("heap allocations after startup: ")
      out.append(integer: Int64(program.allocations))
      out.append("\n")
      out.flush()
    }
    return .stopped
  }

  /// A clean MQTT stop: `offline` (retained) and DISCONNECT, so the broker does not publish
  /// the last will. The loop has stopped: it waits at most 300 ms for the broker to close.
  static func stopMQTT(_ firmware: inout Firmware<EpollPlatform>) {
    if firmware.world.mqtt != nil {
      firmware.world.mqtt!.client.stop(now: firmware.executor.platform.now(), linger: .milliseconds(300))
    }
  }

  /// Once the loop has stopped (a reload, the exit): flushes the output (waiting at most
  /// `within`) and, when `final`, writes a summary, never inside a record: through the ring
  /// before the flush when stderr is the output's file, else to stderr after the summary the
  /// summary task may still be writing.
  static func deliverSummary(_ firmware: inout Firmware<EpollPlatform>, final: Bool, within limit: Duration) {
    // The final summary is rendered after the flush, so its output line counts what the flush
    // could not write (rendered before, it counted the records still waiting as unwritten).
    var text = SummaryText()
    if firmware.world.summaryThroughOutput {
      // The records first; the summary only if they all went out (else it would land inside
      // the one left half-written), then flushed too.
      if firmware.world.summary.remaining > 0 {
        _ = firmware.world.output.append(text: firmware.world.summary)
      }
      firmware.world.summary.reset()
      let deadline = monotonicNow() + limit
      _ = firmware.flushOutput(within: limit)
      if final && firmware.world.output.isEmpty {
        firmware.renderFinalSummary(
          into: &text, now: firmware.executor.platform.now(), loop: firmware.executor.platform.counters)
        _ = firmware.world.output.append(text: text)
        _ = firmware.flushOutput(within: max(deadline - monotonicNow(), .milliseconds(100)))
      }
      return
    }
    _ = firmware.flushOutput(within: limit)
    // The summary task's write in flight (a worker thread's) ends first, then what it had left.
    let slot = FirmwareLimits.summaryWorkerSlot
    if firmware.world.summary.inFlight > 0 && firmware.world.worker != nil {
      let done = firmware.world.worker!.waitUntilDone(slot, until: monotonicNow() + limit)
      if done, let result = firmware.world.worker!.collect(slot), result.errno == 0 {
        firmware.world.summary.markDelivered(firmware.world.summary.inFlight)
      } else {
        firmware.world.summary.markDelivered(firmware.world.summary.remaining)
      }
      firmware.world.summary.inFlight = 0
    }
    if firmware.world.summary.remaining > 0 { firmware.world.summary.withRemaining { writeBytes(2, $0) } }
    firmware.world.summary.reset()
    if final {
      firmware.renderFinalSummary(
        into: &text, now: firmware.executor.platform.now(), loop: firmware.executor.platform.counters)
      text.withRemaining { writeBytes(2, $0) }
    }
  }

  /// Writes all of `bytes` to `fd` (blocking: the loop has stopped).
  static func writeBytes(_ fd: Int32, _ bytes: Span<UInt8>) {
    var out = TextWriter(fd: fd)
    for i in 0..<bytes.count { out.append(byte: bytes[i]) }
    out.flush()
  }

  /// Whether the allocation counter is preloaded.
  static func countingAvailable() -> Bool {
    var count: UInt64 = 0
    return cl_alloc_count(&count) != 0
  }

  /// Polls every task once (and whatever they wake), until nothing is ready. A stop, summary or
  /// reload request ends `runUntilStalled` early and its stop request with it, so the requests
  /// are read from the world: a stop is never lost, and after a summary or reload request the
  /// tasks not yet polled get their first poll before startup counts as over.
  static func startupTurns(_ firmware: inout Firmware<EpollPlatform>) -> ControlRequests {
    var requests = ControlRequests()
    while true {
      firmware.executor.runUntilStalled(&firmware.world)
      let more = firmware.takeRequests()
      requests.shutdown = more.shutdown
      requests.summary = requests.summary || more.summary
      requests.reload = requests.reload || more.reload
      if more.shutdown || !(more.summary || more.reload) { return requests }
    }
  }

  /// SIGHUP: tells systemd, then reads the config file again. Returns the new config, or nil
  /// when it cannot be loaded: the message goes to stderr and, as a `reload_failed` record,
  /// to the output; this run goes on and systemd hears READY=1 again.
  static func reload(_ firmware: inout Firmware<EpollPlatform>, _ program: inout Program) -> BoardConfig? {
    firmware.world.notifySystemdReloading(at: firmware.executor.platform.now())
    do {
      return try loadBoardConfig(cString: program.options.configPath!)
    } catch {
      var message: [UInt8] = []
      error.render(into: &message)
      writeLine(2, "sensorloop: reload failed, the running config stays: ", message)
      let record = reloadFailedRecord(message, at: firmware.executor.platform.now())
      firmware.world.output.append(record)
      if let writer = firmware.world.output.takeWriter() { firmware.executor.wake(writer) }
      _ = firmware.world.notifySystemd(watchdog: false)
      return nil
    }
  }

  /// A reloaded config that loaded but failed to start (a line busy, a file that cannot be
  /// opened): said on stderr and as a record that waits in the carried ring for the previous
  /// config's writer, which starts again.
  static func reportReloadFailure(_ message: [UInt8], startingPrevious: Bool, _ program: inout Program) {
    writeLine(2, "sensorloop: reload failed, starting the previous config again: ", message)
    program.carried.append(reloadFailedRecord(message, at: monotonicNow()))
  }

  /// `{"t_ns":…,"wall_ns":…,"task":"sensorloop","event":"reload_failed","error":"…"}` (the
  /// message cut short, with `...`, where it would not fit one record).
  static func reloadFailedRecord(_ message: [UInt8], at time: Instant) -> RecordLine {
    let wall = WallClock.system.unixNanoseconds(at: time)
    var record = RecordLine(time: time, wall: wall, task: ShortName("sensorloop"))
    record.field("event", "reload_failed")
    record.field("error", text: message.span)
    record.finish()
    return record
  }
}

extension FirmwareWorld {
  /// Sends `RELOADING=1` to systemd, if run by it.
  func notifySystemdReloading(at now: Instant) {
    switch systemd {
    case .some(let notify): try? notify.reloading(at: now)
    case .none: break
    }
  }
}
