// Test support: a real mosquitto (Debian's `mosquitto`, installed by .ci/deps host) started on a
// free loopback port and a Unix socket in a temporary directory, with its log in that directory
// (log_type all: the tests wait for "Sending SUBACK to <id>" instead of sleeping), and
// mosquitto_sub / mosquitto_pub runs; the client on a real epoll loop, run in slices.

import Foundation
import LoopCore
import LoopLinux
import LoopMQTT
import Testing

/// A mosquitto process with its own directory, port and Unix socket.
final class Broker {
  let directory: URL
  let port: UInt16
  var socketPath: String { directory.appendingPathComponent("mosquitto.sock").path }
  var logPath: String { directory.appendingPathComponent("mosquitto.log").path }
  private var process: Process?
  private let extraConfig: String

  /// Writes the config (and a password file for `users`); does not start. `port` nil: a free one.
  init(port: UInt16? = nil, users: [(String, String)] = []) throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("sl-mqtt-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    self.port = try port ?? freePort()
    var extra = "allow_anonymous true\n"
    if !users.isEmpty {
      let passwords = directory.appendingPathComponent("passwords").path
      _ = FileManager.default.createFile(atPath: passwords, contents: Data())
      for (user, password) in users {
        try run("/usr/bin/mosquitto_passwd", ["-b", passwords, user, password])
      }
      extra = "allow_anonymous false\npassword_file \(passwords)\n"
    }
    extraConfig = extra
  }

  deinit {
    stop()
    try? FileManager.default.removeItem(at: directory)
  }

  /// Starts mosquitto and waits until it says it is running (up to 10 s).
  func start() throws {
    let config = directory.appendingPathComponent("mosquitto.conf")
    // Run as root, mosquitto drops to the `mosquitto` user, which cannot write here: stay root.
    // Otherwise the option is ignored, so it is left out.
    let user = geteuid() == 0 ? "user root\n" : ""
    let text = """
      per_listener_settings false
      \(user)listener \(port) 127.0.0.1
      listener 0 \(socketPath)
      \(extraConfig)persistence false
      log_dest file \(logPath)
      log_type all
      log_timestamp false

      """
    try text.write(to: config, atomically: true, encoding: .utf8)
    let marker = log().count
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/sbin/mosquitto")
    p.arguments = ["-c", config.path]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    process = p
    try waitForLog("running", after: marker, seconds: 10)
  }

  /// SIGKILL (no will, no clean close), and waits for the process to end.
  func kill() {
    guard let p = process else { return }
    Foundation.kill(p.processIdentifier, SIGKILL)
    p.waitUntilExit()
    process = nil
  }

  /// SIGSTOP / SIGCONT: a broker that stops reading.
  func pause() { if let p = process { Foundation.kill(p.processIdentifier, SIGSTOP) } }
  func resume() { if let p = process { Foundation.kill(p.processIdentifier, SIGCONT) } }

  /// SIGKILL too: the test process's threads block SIGTERM, and a child started by Process
  /// inherits that mask (mosquitto never saw a SIGTERM: seen as a hang in `waitUntilExit`).
  func stop() { kill() }

  func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

  /// Waits until the log, past its first `after` characters, contains `text`.
  func waitForLog(_ text: String, after: Int = 0, seconds: Double = 10) throws {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end {
      let l = log()
      if l.count > after, l.dropFirst(after).contains(text) { return }
      usleep(10_000)
    }
    throw TestFailure("mosquitto log has no '\(text)' after \(seconds) s:\n\(log().suffix(2000))")
  }

  /// Starts `mosquitto_sub` (id `id`, QoS 1, topic/payload/retain/qos per line) and waits until
  /// the broker has acknowledged its subscription.
  func subscriber(_ id: String, topic: String, count: Int, seconds: Int = 10) throws -> Subscriber {
    let marker = log().count
    let s = try Subscriber(
      [
        "-p", "\(port)", "-h", "127.0.0.1", "-i", id, "-q", "1", "-t", topic, "-C", "\(count)", "-W",
        "\(seconds)",
        "-F", "%t|%p|%r|%q",
      ])
    try waitForLog("Sending SUBACK to \(id)", after: marker)
    return s
  }

  /// Runs mosquitto_pub once.
  func publish(_ topic: String, _ message: String, qos: Int = 1, retain: Bool = false) throws {
    var args = ["-p", "\(port)", "-h", "127.0.0.1", "-t", topic, "-m", message, "-q", "\(qos)"]
    if retain { args.append("-r") }
    try run("/usr/bin/mosquitto_pub", args)
  }

  /// The retained message on `topic` (as a `%t|%p|%r|%q` line), or nil (waits up to 1 s).
  func retained(_ topic: String) throws -> String? {
    let s = try Subscriber(
      [
        "-p", "\(port)", "-h", "127.0.0.1", "-q", "1", "-t", topic, "-C", "1", "-W", "1", "--retained-only",
        "-F", "%t|%p|%r|%q",
      ])
    return s.lines().first
  }
}

/// A running mosquitto_sub.
final class Subscriber {
  private let process = Process()
  private let output = Pipe()

  init(_ arguments: [String]) throws {
    process.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_sub")
    process.arguments = arguments
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
  }

  /// Waits for it to exit (after its count or its -W timeout) and returns its lines.
  func lines() -> [String] {
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
  }
}

struct TestFailure: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}

/// Runs a program to completion; throws when it fails.
func run(_ path: String, _ arguments: [String]) throws {
  let p = Process()
  p.executableURL = URL(fileURLWithPath: path)
  p.arguments = arguments
  p.standardOutput = FileHandle.nullDevice
  try p.run()
  p.waitUntilExit()
  if p.terminationStatus != 0 { throw TestFailure("\(path) \(arguments) exited \(p.terminationStatus)") }
}

/// A loopback TCP socket that listens (backlog 0) and never accepts.
final class SilentListener {
  let fd: Int32
  let port: UInt16

  init() throws {
    fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let fd = self.fd
    let ok = withUnsafeMutablePointer(to: &address) { pointer in
      pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { a in
        bind(fd, a, length) == 0 && listen(fd, 0) == 0 && getsockname(fd, a, &length) == 0
      }
    }
    port = UInt16(bigEndian: address.sin_port)
    if !ok {
      close(fd)
      throw TestFailure("no listener")
    }
  }

  deinit { close(fd) }
}

/// A loopback TCP port nobody listens on now (bound to 0, read, closed).
func freePort() throws -> UInt16 {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  defer { close(fd) }
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_addr.s_addr = inet_addr("127.0.0.1")
  address.sin_port = 0
  var length = socklen_t(MemoryLayout<sockaddr_in>.size)
  let ok = withUnsafeMutablePointer(to: &address) { pointer in
    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { a in
      bind(fd, a, length) == 0 && getsockname(fd, a, &length) == 0
    }
  }
  if !ok { throw TestFailure("no free port") }
  return UInt16(bigEndian: address.sin_port)
}

// MARK: The loop

/// Everything the tasks share: the client, and what arrived.
struct MQTTWorld: ~Copyable {
  var client: Client
  /// Messages the consumer took, as `topic|payload|retain|qos` (when `recording`).
  var messages: [String] = []
  var recording = true
  var messagesTaken = 0
  var ticks = 0
  /// The latest the ticker was polled after its deadline: a loop blocked by a connect, a read or
  /// a write would show here.
  var tickLateness: Duration = .zero
  var published = 0
}

/// The test's tasks.
enum MQTTTask: TaskBody {
  /// Polls the client.
  case client
  /// Takes messages from the client's inbox.
  case consumer
  /// Counts a tick every 10 ms (the loop keeps running whatever the client does).
  case ticker(next: Instant)
  /// Publishes `remaining` messages, one per `every`, alternating QoS 0 and 1, static topic and
  /// payload (nothing allocated).
  case publisher(remaining: Int, every: Duration, next: Instant)
  /// Stops the executor at the deadline.
  case stopper(at: Instant)

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout MQTTWorld) -> Poll<Void>
  {
    switch self {
    case .client:
      return world.client.poll(&cx)
    case .consumer:
      while let m = world.client.nextMessage(&cx) {
        world.messagesTaken += 1
        if world.recording {
          world.messages.append(
            "\(String(decoding: m.topic, as: UTF8.self))|\(String(decoding: m.payload, as: UTF8.self))|\(m.retain ? 1 : 0)|\(m.qos)"
          )
        }
      }
      return .pending
    case .ticker(var next):
      let late = cx.now - next
      if late > world.tickLateness { world.tickLateness = late }
      while cx.now >= next {
        world.ticks += 1
        next += .milliseconds(10)
      }
      self = .ticker(next: next)
      try! cx.wake(at: next)
      return .pending
    case .publisher(var remaining, let every, var next):
      while remaining > 0 && cx.now >= next {
        let qos: UInt8 = remaining % 2 == 0 ? 0 : 1
        _ = world.client.publish(
          &cx, topic: UnsafeRawBufferPointer("sl/alloc/data"), payload: UnsafeRawBufferPointer("12.5"),
          qos: qos)
        world.published += 1
        remaining -= 1
        next += every
      }
      self = .publisher(remaining: remaining, every: every, next: next)
      if remaining == 0 { return .ready(()) }
      try! cx.wake(at: next)
      return .pending
    case .stopper(let at):
      if cx.now >= at {
        cx.stopExecutor()
        return .ready(())
      }
      try! cx.wake(at: at)
      return .pending
    }
  }
}

typealias MQTTExecutor = Executor<8, 8, MQTTTask, EpollPlatform>

/// An executor running `client` (its readiness line watched as interrupt 0), a consumer and a
/// ticker.
struct Loop: ~Copyable {
  var executor: MQTTExecutor
  var world: MQTTWorld
  let clientTask: Waker

  init(_ client: consuming Client) throws {
    var platform = try EpollPlatform()
    try platform.watch(client.readinessDescriptor, as: Interrupt(0), for: .readable)
    var executor = MQTTExecutor(platform: platform)
    let clientTask = try executor.spawn(.client)
    try executor.spawn(.consumer)
    try executor.spawn(.ticker(next: monotonicNow()))
    self.init(executor: executor, world: MQTTWorld(client: client), clientTask: clientTask)
  }

  private init(executor: consuming MQTTExecutor, world: consuming MQTTWorld, clientTask: Waker) {
    self.executor = executor
    self.world = world
    self.clientTask = clientTask
  }

  /// Resets the ticker's lateness (its first poll may come long after the loop was built).
  mutating func resetLateness() { world.tickLateness = .zero }

  /// Runs the loop for `milliseconds` (the client task is woken first: a publish from outside
  /// the loop did not wake it).
  mutating func run(milliseconds: Int64) {
    executor.wake(clientTask)
    _ = try! executor.spawn(.stopper(at: monotonicNow() + .milliseconds(milliseconds)))
    _ = executor.run(&world)
  }

  /// Runs the loop in 20 ms slices until `done` holds, at most `seconds`; returns whether it did.
  @discardableResult
  mutating func run(upTo seconds: Double = 10, until done: (borrowing MQTTWorld) -> Bool) -> Bool {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end {
      if done(world) { return true }
      run(milliseconds: 20)
    }
    return done(world)
  }

  /// Publishes from outside the loop (the next `run` wakes the client).
  mutating func publish(_ topic: String, _ payload: String, qos: UInt8, retain: Bool = false)
    -> PublishOutcome
  {
    Array(topic.utf8).withUnsafeBytes { t in
      Array(payload.utf8).withUnsafeBytes { p in
        world.client.publish(topic: t, payload: p, qos: qos, retain: retain)
      }
    }
  }
}

/// Client options for `address` with the strings given (kept alive for `init`'s copy only).
func makeClient(
  _ address: SocketAddress, id: String, availability: String? = nil, subscriptions: [String] = [],
  username: String? = nil, password: String? = nil, keepAlive: UInt16 = 30,
  configure: (inout ClientOptions) -> Void = { _ in }
) throws -> Client {
  let idRaw = rawCopy(id)!, av = rawCopy(availability), user = rawCopy(username), pass = rawCopy(password)
  defer {
    for b in [idRaw, av, user, pass] { b.map { UnsafeMutableRawBufferPointer(mutating: $0).deallocate() } }
  }
  var options = ClientOptions(address: address, clientID: idRaw)
  options.availabilityTopic = av
  options.username = user
  options.password = pass
  options.keepAliveSeconds = keepAlive
  options.reconnectMin = .milliseconds(50)
  options.reconnectMax = .milliseconds(400)
  options.connectTimeout = .seconds(3)
  configure(&options)
  var client = try Client(options, line: Interrupt(0))
  for filter in subscriptions {
    try Array(filter.utf8).withUnsafeBytes { try client.subscribe($0) }
  }
  return client
}

/// A heap copy of `text`'s bytes (the caller deallocates it).
func rawCopy(_ text: String?) -> UnsafeRawBufferPointer? {
  guard let text else { return nil }
  let bytes = Array(text.utf8)
  let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
  copy.copyBytes(from: bytes)
  return UnsafeRawBufferPointer(rebasing: copy[0..<bytes.count])
}

/// The bound on the ticker's lateness that shows the loop never blocked: generous for a loaded
/// 2-core host running other suites in parallel, and more under a sanitizer (a connect or a read
/// that blocked the loop would take seconds: the kernel's SYN retries, a broker that never answers).
var latenessBound: Duration {
  ProcessInfo.processInfo.environment["SENSORLOOP_SANITIZER"] == nil
    ? .milliseconds(250) : .milliseconds(1_000)
}

func tcp(_ broker: Broker) -> SocketAddress { SocketAddress.parse("127.0.0.1", port: broker.port)! }
