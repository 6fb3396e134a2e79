// W1 ping-pong: two tasks wake each other through the executor's own wakers (a `Signal<Void>`
// each), and the variant where every hop crosses an eventfd. A hop is one wake and one poll.

import AllocCounter
import CBaseline
import LoopCore
import LoopLinux

/// The two signals the players pass the ball through (player `i` waits on `signal[i]`), and
/// the hop count.
struct PingPongWorld: ~Copyable {
  var signal = InlineArray<2, Signal<Void>> { _ in Signal() }
  var hops: Int64 = 0
  /// The next hop count that needs a look: the warm-up sample, then `limit`. One compare per
  /// hop, as the C ring's `++hops >= limit`.
  var mark: Int64
  var limit: Int64
  var allocsAtWarm: UInt64 = 0
  var allocsAtEnd: UInt64 = 0

  /// Hops after which allocations start to count.
  static let warmHops: Int64 = 1_000

  init(limit: Int64) {
    self.limit = limit
    mark = min(Self.warmHops, limit)
  }
}

/// One player: waits for its signal, counts a hop, signals the other player. The players
/// index the signals (player 0 waits on `signal[0]` and signals `signal[1]`) as the C ring
/// indexes its tasks (`1 - self`), rather than choosing between two named signals with a
/// branch on each side of the hop.
struct Player: TaskBody {
  typealias World = PingPongWorld
  let first: Bool

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout PingPongWorld)
    -> Poll<Void>
  {
    let mine = first ? 0 : 1
    while true {
      guard world.signal[mine].wait(&cx).isReady else { return .pending }
      world.hops &+= 1
      // Out of line: taken twice per run, not on every hop.
      if _slowPath(world.hops >= world.mark) {
        if world.hops == PingPongWorld.warmHops {
          world.allocsAtWarm = sl_alloc_count_thread()
          world.mark = world.limit
        }
        if world.hops >= world.limit {
          world.allocsAtEnd = sl_alloc_count_thread()
          cx.stopExecutor()
          return .ready(())
        }
      }
      world.signal[1 &- mine].signal((), &cx)
    }
  }
}

/// W1 for sensorloop on `platform`: ns per hop over `roundTrips` round trips.
func runW1<P: Platform & ~Copyable>(roundTrips: Int64, platform: consuming P, impl: String)
  -> ResultLine
{
  var executor = Executor<2, 2, Player, P>(platform: platform)
  var world = PingPongWorld(limit: 2 * roundTrips)
  _ = world.signal[0].signal(())
  try! executor.spawn(Player(first: true))
  try! executor.spawn(Player(first: false))
  let start = cb_now_ns()
  _ = countedRegion { executor.run(&world) }
  let elapsed = cb_now_ns() - start
  var line = ResultLine(workload: "w1", impl: impl)
  line.add("ns_per_hop", Double(elapsed) / Double(world.hops), decimals: 2)
  line.add("hops", count: world.hops)
  line.add("allocs", count: Int64(world.allocsAtEnd &- world.allocsAtWarm))
  return line
}

/// W1 for the C ring of function pointers.
func runW1C(roundTrips: Int64) -> ResultLine {
  let before = sl_alloc_count_thread()
  let elapsed = countedRegion { cb_w1_pingpong(roundTrips) }
  let allocs = sl_alloc_count_thread() - before
  var line = ResultLine(workload: "w1", impl: "c")
  line.add("ns_per_hop", Double(elapsed) / Double(2 * roundTrips), decimals: 2)
  line.add("hops", count: 2 * roundTrips)
  line.add("allocs", count: Int64(allocs))
  return line
}

/// W1 with an eventfd per hop, for the C epoll loop.
func runW1EventfdC(roundTrips: Int64) -> ResultLine {
  let before = sl_alloc_count_thread()
  let elapsed = cb_w1_eventfd(roundTrips)
  let allocs = sl_alloc_count_thread() - before
  precondition(elapsed > 0, "cb_w1_eventfd failed")
  var line = ResultLine(workload: "w1-eventfd", impl: "c")
  line.add("ns_per_hop", Double(elapsed) / Double(2 * roundTrips), decimals: 1)
  line.add("hops", count: 2 * roundTrips)
  line.add("allocs", count: Int64(allocs))
  return line
}

/// Two triggers, one per player: a hop raises the other player's eventfd.
struct EventfdPingPongWorld {
  var trigger: InlineArray<2, InterruptTrigger>
  var hops: Int64 = 0
  var limit: Int64
  var allocsAtWarm: UInt64 = 0
  var allocsAtEnd: UInt64 = 0
}

/// One player of the eventfd variant: waits for its line, counts a hop, raises the other's.
struct EventfdPlayer: TaskBody {
  typealias World = EventfdPingPongWorld
  let me: Int

  mutating func poll<S: Scheduler & ~Copyable>(
    _ cx: inout Context<S>, _ world: inout EventfdPingPongWorld
  ) -> Poll<Void> {
    while cx.take(world.trigger[me].line) {
      world.hops += 1
      if world.hops == 1_000 { world.allocsAtWarm = sl_alloc_count_thread() }
      if world.hops >= world.limit {
        world.allocsAtEnd = sl_alloc_count_thread()
        cx.stopExecutor()
        return .ready(())
      }
      world.trigger[1 - me].raise()
    }
    return .pending
  }
}

/// W1 with an eventfd per hop, for sensorloop on the epoll platform.
func runW1Eventfd(roundTrips: Int64) -> ResultLine {
  var platform = try! EpollPlatform()
  let triggers: InlineArray<2, InterruptTrigger> = [
    try! platform.makeTrigger(for: Interrupt(0)), try! platform.makeTrigger(for: Interrupt(1)),
  ]
  var executor = Executor<2, 2, EventfdPlayer, EpollPlatform>(platform: platform)
  var world = EventfdPingPongWorld(trigger: triggers, limit: 2 * roundTrips)
  try! executor.spawn(EventfdPlayer(me: 0))
  try! executor.spawn(EventfdPlayer(me: 1))
  let start = cb_now_ns()
  triggers[0].raise()
  _ = executor.run(&world)
  let elapsed = cb_now_ns() - start
  var line = ResultLine(workload: "w1-eventfd", impl: "sensorloop")
  line.add("ns_per_hop", Double(elapsed) / Double(world.hops), decimals: 1)
  line.add("hops", count: world.hops)
  line.add("allocs", count: Int64(world.allocsAtEnd &- world.allocsAtWarm))
  return line
}
