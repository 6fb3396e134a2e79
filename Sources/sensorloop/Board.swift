// Startup and the run loop: turns a validated `BoardConfig` into a running firmware — the
// epoll platform and its signals, the output fd, GPIO lines (real chip or the mock board with
// its stimuli), files, and one task per configured task — then runs it until asked to stop.
// Everything that can fail does so before the first task runs: nothing is half-started.

import CLinux
import LoopConfig
import LoopCore
import LoopGPIO
import LoopLinux
import LoopMQTT
import LoopTasks

func bytes(_ text: StaticString) -> [UInt8] {
  Array(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
}

/// What lasts across reloads: the flags of the fds sensorloop changed (restored on every exit),
/// the output ring's waiting records (carried into the next config's firmware, never dropped),
/// the `--duration` deadline and the allocation count.
struct Program: ~Copyable {
  let options: Options
  var flags = SavedFlags()
  /// The ring between two runs (the firmware swaps it in when it starts and out when it
  /// reloads), and the record of a failed reload waiting for the next firmware's writer.
  var carried = OutputRing<65_536>()
  /// When `--duration` stops the program, counted from the first start (a reload keeps it).
  var stopAt: Instant? = nil
  /// Allocations counted in the steady state of earlier runs.
  var allocations: UInt64 = 0
  /// Whether the allocation counter is preloaded (then `baseline` is the count at the start
  /// of the current steady state).
  var counting = false
  var baseline: UInt64 = 0

  init(options: Options) { self.options = options }

  /// Startup is over: allocations count from here.
  mutating func startCounting() {
    counting = cl_alloc_count(&baseline) != 0
  }

  /// A steady state ends (a reload re-runs startup, which allocates; or the program stops).
  mutating func stopCounting() {
    var now: UInt64 = 0
    if counting && cl_alloc_count(&now) != 0 { allocations &+= now &- baseline }
    counting = false
  }
}

/// The file status flags of the fds whose flags sensorloop changed (O_NONBLOCK on stdout or
/// stderr), as they were: the flags belong to the open file the fd shares with the shell and
/// the next program, so every exit path puts them back.
struct SavedFlags {
  private var fds = InlineArray<2, Int32>(repeating: -1)
  private var flags = InlineArray<2, Int32>(repeating: 0)

  /// Remembers `fd`'s flags, once (a reload changes them again and must not save its own).
  mutating func save(_ fd: Int32) {
    for i in 0..<2 where fds[i] == fd { return }
    for i in 0..<2 where fds[i] < 0 {
      let current = cl_fcntl(fd, F_GETFL, 0)
      if current < 0 { return }
      fds[i] = fd
      flags[i] = current
      return
    }
  }

  /// Puts every saved fd's flags back.
  mutating func restore() {
    for i in 0..<2 where fds[i] >= 0 {
      _ = cl_fcntl(fds[i], F_SETFL, flags[i])
      fds[i] = -1
    }
  }
}

/// How one run of a config ended.
enum RunOutcome {
  /// Stopped cleanly (the summary is printed).
  case stopped
  /// SIGHUP: the config file holds this new, valid config.
  case reload(BoardConfig)
}

enum Board {
  /// Starts everything the config describes and runs it, then every config a SIGHUP reloads.
  /// A failure before the first config's tasks run exits 1, after closing what was opened; a
  /// reloaded config that fails to start is reported and the previous one starts again.
  static func start(_ config: consuming BoardConfig, options: Options) -> Int32 {
    var program = Program(options: options)
    var previous: BoardConfig? = nil
    while true {
      let outcome: RunOutcome
      do throws(StartupError) {
        outcome = try startAndRun(config, &program)
      } catch {
        guard let old = previous else {
          program.flags.restore()
          return fail(error, code: 1)
        }
        reportReloadFailure(error.message, startingPrevious: true, &program)
        config = old
        previous = nil
        continue
      }
      switch outcome {
      case .stopped:
        program.flags.restore()
        return 0
      case .reload(let next):
        previous = config
        config = next
      }
    }
  }

  /// One run of `config`: opens and requests everything, runs until a stop or a reload, and
  /// releases it all (GPIO lines, files, the event loop) when it returns.
  static func startAndRun(_ config: BoardConfig, _ program: inout Program) throws(StartupError) -> RunOutcome
  {
    var files = OpenFiles()
    var platform = try makePlatform()
    var world = try openOutput(config.output, &platform, &files, &program.flags)
    let start: Instant
    // One catch for the steps that can fail once the world is open: each `try` leaving the
    // function on its own had its own copy of the code that closes the world and the platform.
    do {
      try connectSystemd(&world)
      try startWorker(&world, &platform)
      start = platform.now()
      if program.stopAt == nil, let duration = program.options.duration { program.stopAt = start + duration }
      try wireGPIO(config, &world, &platform, start: start)
      try connectMQTT(config, &world, &platform)
    } catch { throw error }
    var firmware = Firmware(platform: platform, world: world, start: start)
    // The firmware is dropped in one place, whether its tasks failed to start or it ran: the
    // code that closes all it holds is made once.
    var failure: StartupError? = nil
    var outcome = RunOutcome.stopped
    do {
      try spawnTasks(config, stopAt: program.stopAt, &firmware, &files)
      outcome = run(&firmware, output: config.output, watchdogs: files.watchdogs, &program)
      // Hardware PWM channels stop and go back to the kernel (a reload exports them again).
      firmware.world.releasePWMChannels()
    } catch { failure = error }
    _ = consume firmware
    if let failure { throw failure }
    return outcome
  }

  /// The MQTT link of the config's `mqtt` section, if it has one: the client's buffers mapped,
  /// the credentials read, its readiness fd watched. It connects at the MQTT task's first
  /// poll, never here: a broker that is down does not hold startup.
  static func connectMQTT(
    _ config: BoardConfig, _ world: inout FirmwareWorld, _ platform: inout EpollPlatform
  ) throws(StartupError) {
    // Made in its place in the world (a failed watch drops it with the world).
    world.mqtt = try config.makeMQTTLink()
    guard world.mqtt != nil else { return }
    do throws(Errno) {
      try platform.watch(world.mqtt!.client.readinessDescriptor, as: FirmwareInterrupt.mqtt, for: .readable)
    } catch {
      throw StartupError("sensorloop: cannot watch the MQTT client's socket", errno: error)
    }
  }

  static func makePlatform() throws(StartupError) -> EpollPlatform {
    do throws(Errno) {
      var platform = try EpollPlatform()
      try watchSignals(&platform)
      return platform
    } catch {
      throw StartupError("sensorloop: cannot create the event loop", errno: error)
    }
  }

  /// Starts the worker threads that do the blocking file I/O (sampler reads, writes to a
  /// regular output file, the summary) and raise `FirmwareInterrupt.workerDone` when done.
  /// After `makePlatform`: the threads inherit its blocked signals. A reload starts new ones
  /// (the old ones end once idle).
  static func startWorker(_ world: inout FirmwareWorld, _ platform: inout EpollPlatform) throws(StartupError)
  {
    do throws(Errno) {
      let trigger = try platform.makeTrigger(for: FirmwareInterrupt.workerDone)
      world.worker = try BlockingWorker(
        slots: FirmwareLimits.workerSlots, threads: FirmwareLimits.workerThreads, trigger: trigger)
    } catch {
      throw StartupError("sensorloop: cannot start the worker threads", errno: error)
    }
  }

  /// Opens systemd's notification socket when $NOTIFY_SOCKET names one (`Type=notify`).
  static func connectSystemd(_ world: inout FirmwareWorld) throws(StartupError) {
    do throws(Errno) {
      world.systemd = try SystemdNotify.fromEnvironment()
    } catch {
      throw StartupError("sensorloop: cannot use $NOTIFY_SOCKET", errno: error)
    }
  }

  static func fail(_ error: StartupError, code: Int32) -> Int32 {
    writeLine(2, "", error.message)
    return code
  }

  /// SIGINT and SIGTERM stop; SIGUSR1 prints the summary; SIGHUP reloads the config; SIGPIPE is
  /// taken so a closed output pipe shows up as EPIPE (counted) instead of killing the program.
  static func watchSignals(_ platform: inout EpollPlatform) throws(Errno) {
    try platform.watchSignal(SIGINT, as: FirmwareInterrupt.stop)
    try platform.watchSignal(SIGTERM, as: FirmwareInterrupt.stop)
    try platform.watchSignal(SIGHUP, as: FirmwareInterrupt.reload)
    try platform.watchSignal(SIGUSR1, as: FirmwareInterrupt.summary)
    try platform.watchSignal(SIGPIPE, as: FirmwareInterrupt.brokenPipe)
  }

  /// Blocks the signals sensorloop handles, first thing in `main`: from here on a signal waits,
  /// pending, until the event loop's signalfd reads it (a stop during startup is honoured,
  /// never lost, and never kills the program half-started). Every run's platform blocks them
  /// again; they stay blocked through reloads, so none is lost between two event loops.
  static func blockSignals() {
    var set = sigset_t()
    _ = cl_sigemptyset(&set)
    _ = cl_sigaddset(&set, SIGINT)
    _ = cl_sigaddset(&set, SIGTERM)
    _ = cl_sigaddset(&set, SIGHUP)
    _ = cl_sigaddset(&set, SIGUSR1)
    _ = cl_sigaddset(&set, SIGPIPE)
    _ = cl_pthread_sigmask(SIG_BLOCK, &set, nil)
  }

  /// Opens the output (stdout, stderr or a file), non-blocking, watched for writability. A
  /// file is opened again on every run, so a SIGHUP after logrotate moved it writes a new one.
  static func openOutput(
    _ output: RecordOutput, _ platform: inout EpollPlatform, _ files: inout OpenFiles,
    _ flags: inout SavedFlags
  ) throws(StartupError) -> FirmwareWorld {
    let fd: Int32
    switch output.target {
    case .stdout:
      fd = 1
      flags.save(fd)
    case .stderr:
      fd = 2
      flags.save(fd)
    case .file(let path):
      do {
        let file = try path.withCString { (p) throws(Errno) in
          try FileDescriptor.open(cString: p, .writeOnly | .create | .append)
        }
        fd = files.keep(file)
      } catch {
        throw StartupError("sensorloop: cannot open the output file ", path, errno: error)
      }
    }
    let borrowed = FileDescriptor(adopting: fd)
    var regularFile = false
    do throws(Errno) {
      try borrowed.setNonBlocking()
      // A regular file cannot be watched (epoll refuses it: EPERM) and ignores O_NONBLOCK: its
      // writes go through the worker threads.
      do { try platform.watch(fd, as: FirmwareInterrupt.outputWritable, for: .writable) } catch {
        if error != .notPermitted { throw error }
        regularFile = true
      }
    } catch {
      _ = borrowed.release()
      throw StartupError("sensorloop: cannot set up the output", errno: error)
    }
    _ = borrowed.release()
    var world = FirmwareWorld(outputFD: fd)
    world.output.limit = output.ringBytes
    world.summaryThroughOutput = sameFile(fd, 2)
    world.outputThroughWorker = regularFile
    return world
  }

  /// Whether `a` and `b` are the same file (device and inode: one pipe, one terminal, one
  /// regular file), so that bytes written to one may land between bytes written to the other.
  /// The corresponding C function is `fstat`.
  static func sameFile(_ a: Int32, _ b: Int32) -> Bool {
    if a == b { return true }
    var sa = stat()
    var sb = stat()
    guard cl_fstat(a, &sa) == 0, cl_fstat(b, &sb) == 0 else { return false }
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
  }
}
