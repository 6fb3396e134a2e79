// sensorloop-bench: runs BENCH.md's workloads for sensorloop and for the C epoll baseline in
// the same process, prints one `key=value` line per (workload, implementation), then a table
// of ratios to C. With --runs N each figure is the median of N runs (each run's lines are
// printed first, as `#` comments).
//
//   sensorloop-bench [all | w1 w1-hop w2 w3 w4 w5 w6 | instructions ...] [--quick] [--runs N] [--no-pin]
//   sensorloop-bench w4-child        (internal: the host build's W4 child process)
//   sensorloop-bench count-child W I N  (internal: a case `instructions` runs under callgrind)
//   sensorloop-bench w3-tail [--quick]  (a diagnosis: W3's late ticks on both sides, matched)

import CBaseline
import Glibc
import LoopCore
import LoopLinux

/// Workload sizes: BENCH.md's, or a short smoke run for CI (`--quick`).
struct Sizes {
  /// W1 in-process: `pingPongChunks` runs of `pingPongRoundTrips` round trips per side.
  var pingPongRoundTrips: Int64 = 25_000
  var pingPongChunks = 40
  /// W1 with an eventfd per hop: the fastest of `pingPongRepeats` runs per side.
  var pingPongRepeats = 5
  var eventfdRoundTrips: Int64 = 200_000
  var latencyWrites: Int64 = 10_000  // 5 s at 500 µs
  var latencyPeriod: Int64 = 500_000
  var tickerDeadlines: Int64 = 5_000  // 5 s at 1 kHz
  var tickerPeriod: Int64 = 1_000_000
  /// W2 and W3 run in this many interleaved segments per side (ABBA order).
  var segments = 4
  /// W6 readings per side and QoS, at 1 kHz.
  var mqttReadings: Int64 = 5_000

  static let quick = Sizes(
    pingPongRoundTrips: 5_000, pingPongChunks: 4, pingPongRepeats: 1, eventfdRoundTrips: 2_000,
    latencyWrites: 400,
    tickerDeadlines: 300, mqttReadings: 600)
}

let usage = """
  usage: sensorloop-bench [all | w1 w1-hop w2 w3 w4 w5 w6 | instructions ...] [--quick] [--runs N] [--no-pin]
    w1  ping-pong: in-process wakes, and an eventfd per hop
    w1-hop  w1's in-process half only (a quick A/B of the hop)
    w2  eventfd latency from a second thread
    w3  1 kHz ticker lateness, CPU and allocations
    w4  idle footprint: 16 tasks at 1 Hz (child processes)
    w5  GPIO edges through the mock path
    w6  MQTT: 1,000 readings/s published to a local mosquitto at QoS 0 and 1 (skipped without it)
    instructions  instructions per W1 hop, W2 wake and W3 tick, counted by callgrind (valgrind)
    w3-tail  both W3 tickers at once on one CPU: are the late ticks each side's own, or shared?
    --quick   a short run of each workload (a smoke test: the figures mean little)
    --runs N  N runs; each figure is the median
    --no-pin  leave thread placement to the scheduler (default: loop on CPU 1, helpers on 0)
  """

/// Whether the loop thread and the helper threads are pinned to CPUs of their own (`--no-pin`).
nonisolated(unsafe) var pinning = true

/// Pins the measuring thread to the process's second CPU and helper threads to its first, on a
/// machine with two CPUs or more: both implementations then see the same placement, instead of
/// whatever the scheduler picks per run (on these VMs, a 20% swing in W2's p50 from placement
/// alone). Returns what it did, for the output.
@discardableResult
func pinForMeasuring() -> String {
  guard pinning, cb_cpu_count() >= 2 else { return "not pinned" }
  let loop = cb_cpu_at(1)
  let helper = cb_cpu_at(0)
  guard cb_pin_thread(loop) == 0 else { return "not pinned (pinning failed)" }
  cb_set_helper_cpu(helper)
  return "loop pinned to CPU \(loop), helper threads to CPU \(helper)"
}

/// In-process: many short runs per side, interleaved C, sensorloop, C, ... on the same
/// pinned CPU, each side's figure the median of its runs. Runs of equal hop counts (tenths
/// of a millisecond) are as likely to be hit by a descheduling on either side; one long run
/// per side was not (the slower side's run lasted four times as long, so on a loaded host it
/// was hit more often, and its best of five moved by 40% where C's moved by 3%).
func runW1InProcess(_ sizes: Sizes) -> [ResultLine] {
  var c: [[ResultLine]] = []
  var ours: [[ResultLine]] = []
  for _ in 0..<sizes.pingPongChunks {
    c.append([runW1C(roundTrips: sizes.pingPongRoundTrips)])
    ours.append([
      runW1(roundTrips: sizes.pingPongRoundTrips, platform: try! EpollPlatform(), impl: "sensorloop")
    ])
  }
  return medians(c) + medians(ours)
}

/// One run of the chosen workloads.
func runOnce(_ workloads: [String], _ sizes: Sizes) -> [ResultLine] {
  var lines: [ResultLine] = []
  for w in workloads {
    switch w {
    case "w1", "w1-hop":
      lines += runW1InProcess(sizes)
      if w == "w1-hop" { break }
      // With an eventfd per hop a run lasts a second: both sides run `repeats` times,
      // interleaved, and each reports its fastest (noise only ever adds time).
      var best: [ResultLine?] = [nil, nil]
      for _ in 0..<sizes.pingPongRepeats {
        let round = [
          runW1EventfdC(roundTrips: sizes.eventfdRoundTrips),
          runW1Eventfd(roundTrips: sizes.eventfdRoundTrips),
        ]
        for (i, line) in round.enumerated()
        where best[i] == nil || line.value("ns_per_hop")! < best[i]!.value("ns_per_hop")! {
          best[i] = line
        }
      }
      lines += best.map { $0! }
    case "w2":
      lines += runW2(writes: sizes.latencyWrites, period: sizes.latencyPeriod, segments: sizes.segments)
    case "w3":
      lines += runW3(deadlines: sizes.tickerDeadlines, period: sizes.tickerPeriod, segments: sizes.segments)
    case "w4":
      // Child processes inherit CPU affinity: they run where the system puts them.
      _ = cb_pin_thread(-1)
      lines += runW4()
      pinForMeasuring()
    case "w5":
      lines += runW5(quick: sizes.tickerDeadlines < Sizes().tickerDeadlines)
    case "w6":
      lines += runW6(readings: sizes.mqttReadings)
    default:
      fatalError("unknown workload \(w)")
    }
  }
  return lines
}

func main() {
  var arguments = Array(CommandLine.arguments.dropFirst())
  if arguments.first == "w4-child" {
    idleChildMain()
    return
  }
  if arguments.first == "count-child" {
    countChildMain(Array(arguments.dropFirst()))
    return
  }
  if arguments.first == "w3-tail" {
    let quick = arguments.contains("--quick")
    print("# " + pinForMeasuring())
    let lines = runW3Tail(deadlines: quick ? 1_000 : 10_000, period: 1_000_000)
    for line in lines { print(line.text) }
    return
  }
  var workloads: [String] = []
  var sizes = Sizes()
  var runs = 1
  var instructions = false
  while !arguments.isEmpty {
    let a = arguments.removeFirst()
    switch a {
    case "all": workloads += ["w1", "w2", "w3", "w4", "w5", "w6"]
    case "w1", "w1-hop", "w2", "w3", "w4", "w5", "w6": workloads.append(a)
    case "instructions": instructions = true
    case "--quick": sizes = .quick
    case "--no-pin": pinning = false
    case "--runs":
      guard let n = arguments.first.flatMap({ Int($0) }), n > 0 else {
        print(usage)
        exit(2)
      }
      arguments.removeFirst()
      runs = n
    case "-h", "--help":
      print(usage)
      return
    default:
      print(usage)
      exit(2)
    }
  }
  if workloads.isEmpty && !instructions { workloads = ["w1", "w2", "w3", "w4", "w5", "w6"] }

  print("# " + pinForMeasuring())
  var all: [[ResultLine]] = []
  for run in 1...runs {
    let lines = runOnce(workloads, sizes)
    if runs > 1 { for line in lines { print("# run \(run): " + line.text) } }
    all.append(lines)
  }
  var result = medians(all)
  // Counted once: the same on every run.
  if instructions, let counted = countInstructions() { merge(counted, into: &result) }
  for line in result { print(line.text) }
  print("")
  if runs > 1 { print("medians of \(runs) runs; ratios are sensorloop / C") }
  print(table(result), terminator: "")
}

main()
