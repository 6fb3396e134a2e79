// Test support (never on the board): a real mosquitto (Debian's `mosquitto`, installed by
// .ci/deps host) started on a free loopback port and a Unix socket in a temporary directory, with
// its log there (log_type all: tests wait for "Sending SUBACK to <id>" instead of sleeping), and
// mosquitto_sub / mosquitto_pub runs. Shared by LoopMQTTTests (the client on a real epoll loop)
// and SensorloopTests (the sensorloop program with an `mqtt` section).

import Foundation

/// A mosquitto process with its own directory, port and Unix socket, logging everything.
public final class MQTTBroker {
  public let directory: URL
  public let port: UInt16
  public var socketPath: String { directory.appendingPathComponent("mosquitto.sock").path }
  public var logPath: String { directory.appendingPathComponent("mosquitto.log").path }
  private var process: Process?
  private let extraConfig: String

  /// Writes the config (and a password file for `users`); does not start. `port` nil: a free one.
  public init(port: UInt16? = nil, users: [(String, String)] = []) throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("sl-mqtt-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    self.port = try port ?? mqttFreePort()
    var extra = "allow_anonymous true\n"
    if !users.isEmpty {
      let passwords = directory.appendingPathComponent("passwords").path
      _ = FileManager.default.createFile(atPath: passwords, contents: Data())
      for (user, password) in users {
        try runTool("/usr/bin/mosquitto_passwd", ["-b", passwords, user, password])
      }
      extra = "allow_anonymous false\npassword_file \(passwords)\n"
    }
    extraConfig = extra
  }

  deinit {
    kill()
    try? FileManager.default.removeItem(at: directory)
  }

  /// Starts mosquitto and waits until it says it is running (up to 10 s).
  public func start() throws {
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
    try waitForLog("running", after: marker)
  }

  /// SIGKILL (no will, no clean close), and waits for the process to end. Not SIGTERM: the test
  /// process's threads block it, and a child started by Process inherits that mask (mosquitto
  /// never saw a SIGTERM: seen as a hang in `waitUntilExit`).
  public func kill() {
    guard let p = process else { return }
    Foundation.kill(p.processIdentifier, SIGKILL)
    p.waitUntilExit()
    process = nil
  }

  /// SIGSTOP: a broker that stops reading (the client's packets wait unacknowledged).
  public func pause() { if let p = process { Foundation.kill(p.processIdentifier, SIGSTOP) } }
  public func resume() { if let p = process { Foundation.kill(p.processIdentifier, SIGCONT) } }

  /// The same as `kill()`.
  public func stop() { kill() }

  public func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

  /// Waits until the log, past its first `after` characters, contains `text`.
  public func waitForLog(_ text: String, after: Int = 0, seconds: Double = 10) throws {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end {
      let l = log()
      if l.count > after, l.dropFirst(after).contains(text) { return }
      usleep(10_000)
    }
    throw MQTTTestFailure("mosquitto log has no '\(text)' after \(seconds) s:\n\(log().suffix(2000))")
  }

  /// mosquitto_sub on `topic` (QoS 1), `%t|%p|%r|%q` per line, once its SUBACK is logged; it ends
  /// after `count` messages or `seconds`.
  public func subscriber(_ id: String, topic: String, count: Int = 100_000, seconds: Int = 10) throws
    -> MQTTSubscriber
  {
    let marker = log().count
    let s = try MQTTSubscriber(
      seconds: Double(seconds),
      [
        "-p", "\(port)", "-h", "127.0.0.1", "-i", id, "-q", "1", "-t", topic, "-C", "\(count)", "-F",
        "%t|%p|%r|%q",
      ])
    try waitForLog("Sending SUBACK to \(id)", after: marker)
    return s
  }

  /// The retained message on `topic` as `topic|payload|retain|qos`, or nil.
  public func retained(_ topic: String) throws -> String? {
    let s = try MQTTSubscriber(
      seconds: 1,
      [
        "-p", "\(port)", "-h", "127.0.0.1", "-q", "1", "-t", topic, "-C", "1", "--retained-only", "-F",
        "%t|%p|%r|%q",
      ])
    return s.lines().first
  }

  /// All retained messages under `filter`.
  public func allRetained(_ filter: String) throws -> [String] {
    let s = try MQTTSubscriber(
      seconds: 1,
      ["-p", "\(port)", "-h", "127.0.0.1", "-q", "1", "-t", filter, "--retained-only", "-F", "%t|%p|%r|%q"])
    return s.lines()
  }

  /// Runs mosquitto_pub once.
  public func publish(_ topic: String, _ message: String, qos: Int = 1, retain: Bool = false) throws {
    var args = ["-p", "\(port)", "-h", "127.0.0.1", "-t", topic, "-m", message, "-q", "\(qos)"]
    if retain { args.append("-r") }
    try runTool("/usr/bin/mosquitto_pub", args)
  }
}

/// A running mosquitto_sub, ended by SIGKILL after `seconds` if its count has not ended it.
/// Not its own `-W`: that is a SIGALRM, which this test process's threads block and a child
/// inherits blocked (mosquitto_sub never ended). `timeout` unblocks its own; `stdbuf -oL` keeps
/// the lines printed before the kill.
public final class MQTTSubscriber {
  private let process = Process()
  private let output = Pipe()

  public init(seconds: Double, _ arguments: [String]) throws {
    process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
    process.arguments =
      ["-s", "KILL", "\(seconds)", "/usr/bin/stdbuf", "-oL", "/usr/bin/mosquitto_sub"] + arguments
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
  }

  /// Waits for it to exit (its count or its time) and returns its lines.
  public func lines() -> [String] {
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
  }
}

public struct MQTTTestFailure: Error, CustomStringConvertible {
  public let description: String
  public init(_ description: String) { self.description = description }
}

/// Runs a program to completion; throws when it fails.
public func runTool(_ path: String, _ arguments: [String]) throws {
  let p = Process()
  p.executableURL = URL(fileURLWithPath: path)
  p.arguments = arguments
  p.standardOutput = FileHandle.nullDevice
  try p.run()
  p.waitUntilExit()
  if p.terminationStatus != 0 { throw MQTTTestFailure("\(path) \(arguments) exited \(p.terminationStatus)") }
}

/// A loopback TCP port nobody listens on now.
public func mqttFreePort() throws -> UInt16 {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  defer { close(fd) }
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_addr.s_addr = inet_addr("127.0.0.1")
  var length = socklen_t(MemoryLayout<sockaddr_in>.size)
  let ok = withUnsafeMutablePointer(to: &address) { pointer in
    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { a in
      bind(fd, a, length) == 0 && getsockname(fd, a, &length) == 0
    }
  }
  if !ok { throw MQTTTestFailure("no free port") }
  return UInt16(bigEndian: address.sin_port)
}

/// A loopback TCP socket that listens (backlog 0) and never accepts.
public final class SilentListener {
  public let fd: Int32
  public let port: UInt16

  public init() throws {
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
      throw MQTTTestFailure("no listener")
    }
  }

  deinit { close(fd) }
}
