// Test support: the client on a real epoll loop, run in slices, against a real mosquitto
// (Tests/HostTestSupport).

import Foundation
import HostTestSupport
import LoopCore
import LoopLinux
import LoopMQTT
import Testing

/// The shared support's names, as these tests have always called them.
typealias Broker = MQTTBroker
typealias TestFailure = MQTTTestFailure
typealias Subscriber = MQTTSubscriber
func freePort() throws -> UInt16 { try mqttFreePort() }

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
