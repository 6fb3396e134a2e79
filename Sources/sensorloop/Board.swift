// Startup and the run loop: turns a validated `BoardConfig` into a running firmware — the
// epoll platform and its signals, the output fd, GPIO lines (real chip or the mock board with
// its stimuli), files, and one task per configured task — then runs it until asked to stop.
// Everything that can fail does so before the first task runs: nothing is half-started.

import CLinux
import LoopConfig
import LoopCore
import LoopGPIO
import LoopLinux
import LoopTasks

/// A startup failure: what to print, and the exit code.
struct StartupError: Error {
  var message: [UInt8]

  init(_ parts: StaticString...) {
    message = []
    for part in parts { message.append(contentsOf: bytes(part)) }
  }

  mutating func add(_ part: StaticString) { message.append(contentsOf: bytes(part)) }
  mutating func add<let n: Int>(_ text: FixedText<n>) { text.withBytes { message.append(contentsOf: $0) } }
  mutating func add(errno: Errno) {
    add(" (")
    add(errno.name)
    add(": ")
    add(errno.message)
    add(")")
  }
}

func bytes(_ text: StaticString) -> [UInt8] {
  Array(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
}

/// Files the program holds open for its tasks (closed when the program ends).
struct OpenFiles: ~Copyable {
  var fds: InlineArray<8, FileDescriptor?> = InlineArray { _ in nil }
  var count = 0

  /// The fd kept last.
  var lastFD: Int32 = -1

  mutating func keep(_ fd: consuming FileDescriptor) -> Int32 {
    let raw = fd.rawValue
    fds[count] = .some(fd)
    count += 1
    lastFD = raw
    return raw
  }
}

enum Board {
  /// Starts everything the config describes and runs it; every failure before the first
  /// task runs is reported with exit code 1, after closing what was opened.
  static func start(_ config: BoardConfig, options: Options) -> Int32 {
    do throws(StartupError) {
      var files = OpenFiles()
      var platform = try makePlatform()
      var world = try openOutput(config.output, &platform, &files)
      try connectSystemd(&world)
      try startWorker(&world, &platform)
      let start = platform.now()
      try wireGPIO(config, &world, &platform, start: start)
      names(config, &world)
      var firmware = Firmware(platform: platform, world: world, start: start)
      var watchdogs: [(fd: Int32, disarm: Bool)] = []
      try spawnTasks(config, options: options, &firmware, &files, &watchdogs)
      return run(&firmware, watchdogs: watchdogs)
    } catch {
      return fail(error, code: 1)
    }
  }

  static func makePlatform() throws(StartupError) -> EpollPlatform {
    do throws(Errno) {
      var platform = try EpollPlatform()
      try watchSignals(&platform)
      return platform
    } catch {
      var e = StartupError("sensorloop: cannot create the event loop")
      e.add(errno: error)
      throw e
    }
  }

  /// Starts the worker threads that do the blocking file I/O (sampler reads, writes to a
  /// regular output file, the summary) and raise `FirmwareInterrupt.workerDone` when done.
  /// After `makePlatform`: the threads inherit its blocked signals.
  static func startWorker(_ world: inout FirmwareWorld, _ platform: inout EpollPlatform) throws(StartupError)
  {
    do throws(Errno) {
      let trigger = try platform.makeTrigger(for: FirmwareInterrupt.workerDone)
      world.worker = try BlockingWorker(
        slots: FirmwareLimits.workerSlots, threads: FirmwareLimits.workerThreads, trigger: trigger)
    } catch {
      var e = StartupError("sensorloop: cannot start the worker threads")
      e.add(errno: error)
      throw e
    }
  }

  /// Opens systemd's notification socket when $NOTIFY_SOCKET names one (`Type=notify`).
  static func connectSystemd(_ world: inout FirmwareWorld) throws(StartupError) {
    do throws(Errno) {
      world.systemd = try SystemdNotify.fromEnvironment()
    } catch {
      var e = StartupError("sensorloop: cannot use $NOTIFY_SOCKET")
      e.add(errno: error)
      throw e
    }
  }

  static func fail(_ error: StartupError, code: Int32) -> Int32 {
    var message = error.message
    message.append(0x0A)
    writeAll(2, message)
    return code
  }

  /// SIGINT, SIGTERM and SIGHUP stop; SIGUSR1 prints the summary; SIGPIPE is taken so a closed
  /// output pipe shows up as EPIPE (counted) instead of killing the program.
  static func watchSignals(_ platform: inout EpollPlatform) throws(Errno) {
    try platform.watchSignal(SIGINT, as: FirmwareInterrupt.stop)
    try platform.watchSignal(SIGTERM, as: FirmwareInterrupt.stop)
    try platform.watchSignal(SIGHUP, as: FirmwareInterrupt.stop)
    try platform.watchSignal(SIGUSR1, as: FirmwareInterrupt.summary)
    try platform.watchSignal(SIGPIPE, as: FirmwareInterrupt.hangup)
  }

  /// Opens the output (stdout, stderr or a file), non-blocking, watched for writability.
  static func openOutput(
    _ output: LoopConfig.OutputConfig, _ platform: inout EpollPlatform, _ files: inout OpenFiles
  ) throws(StartupError) -> FirmwareWorld {
    let fd: Int32
    switch output.target {
    case .stdout: fd = 1
    case .stderr: fd = 2
    case .file(let path):
      do {
        let file = try path.withCString { (p) throws(Errno) in
          try FileDescriptor.open(cString: p, .writeOnly | .create | .append)
        }
        fd = files.keep(file)
      } catch {
        var e = StartupError("sensorloop: cannot open the output file ")
        e.add(path)
        e.add(errno: error)
        throw e
      }
    }
    let borrowed = FileDescriptor(adopting: fd)
    do throws(Errno) {
      try borrowed.setNonBlocking()
      // A regular file is always writable and epoll refuses it (EPERM): writes never wait.
      do { try platform.watch(fd, as: FirmwareInterrupt.outputWritable, for: .writable) } catch {
        if error != .notPermitted { throw error }
      }
    } catch {
      _ = borrowed.release()
      var e = StartupError("sensorloop: cannot set up the output")
      e.add(errno: error)
      throw e
    }
    _ = borrowed.release()
    var world = FirmwareWorld(outputFD: fd)
    world.output.limit = output.ringBytes
    return world
  }

  static func names(_ config: BoardConfig, _ world: inout FirmwareWorld) {
    for i in config.tasks.indices {
      world.names[i] = ShortName(config.tasks[i].name)
    }
  }
}
