import ArgumentParser
import AsyncHTTPClient
import DropSimulator
import Foundation
import NIOCore
import NIOHTTP1
import RedisClient
import WaitingRoomCore

/// `waitroom bench drop`: simulates a drop against running gate instances and reports whether it held.
struct BenchDrop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "drop", abstract: "Simulate a drop against running gate instances.")

    @Option(name: .customLong("gate"), help: "Gate base URL (repeat for several instances).")
    var gates: [String] = ["http://127.0.0.1:8080"]

    @Option(help: "Room to (re)create for the drop.")
    var room = "bench-drop"

    @Option(help: "Number of shoppers.")
    var shoppers = 10_000

    @Option(help: "Arrival curve: spike[:fraction:seconds:tailSeconds] or uniform:seconds.")
    var arrivals = "spike:0.8:60:60"

    @Option(help: "Fraction of shoppers who stop polling after joining.")
    var abandon = 0.2

    @Option(help: "Room rate: shoppers per second entering checkout.")
    var rate = 200.0

    @Option(help: "Room capacity (omit for none).")
    var capacity: Int?

    @Option(help: "Claim window in seconds.")
    var claimWindow = 60

    @Option(help: "Admission token lifetime in seconds.")
    var sessionTTL = 600

    @Option(help: "The first N shoppers to arrive are bots that never come back (no-shows ahead of real shoppers).")
    var noShows = 0

    @Option(help: "Ramp: seconds over which the rate rises after opening.")
    var rampSeconds: Int?

    @Option(help: "Ramp: the rate it starts from.")
    var rampStartRate: Double?

    @Flag(help: "Auto-tune the rate by checkout's health (the order service posts it): --rate is then the ceiling.")
    var autoTune = false

    @Option(help: "Auto-tuning: the floor (room setting minRate).")
    var minRate: Double?

    @Option(help: "Auto-tuning: checkout p95 to stay under, ms (room setting targetLatencyMs).")
    var targetLatencyMs: Int?

    @Option(help: "Auto-tuning: the share of failing checkouts tolerated (room setting maxErrorRatio).")
    var maxErrorRatio: Double?

    @Option(help: "Bots: this many joins, as fast as the gates answer, never polling (the bot scenario).")
    var bots = 0

    @Option(help: "Bots: the number of client addresses they join from (sent as X-Forwarded-For; the gates must trust the simulator as a proxy).")
    var botClients = 10

    @Option(help: "Room setting joinsPerClientPerMinute (omit for the room default).")
    var joinsPerClient: Int?

    @Option(help: "Room setting proofOfWorkBits (omit for the room default, 0).")
    var powBits: Int?

    @Option(help: "Create the room paused and resume it after this many seconds (the ETA right after a resume).")
    var resumeAfter: Double?

    @Option(help: "Schedule the room to open this many seconds after the start (a pre-queue and its lottery).")
    var opensIn: Double?

    @Option(name: .customLong("admin-key"), help: "Admin key (default $WAITROOM_ADMIN_KEY), to create the room with these settings.")
    var adminKeyOption: String?

    /// The flag, else $WAITROOM_ADMIN_KEY.
    var adminKey: String? { adminKeyOption ?? ProcessInfo.processInfo.environment["WAITROOM_ADMIN_KEY"] }

    @Option(name: .customLong("service-key"), help: "Service key (default $WAITROOM_SERVICE_KEY): admitted shoppers release their slot (when no order service is given).")
    var serviceKeyOption: String?

    /// The flag, else $WAITROOM_SERVICE_KEY.
    var serviceKey: String? { serviceKeyOption ?? ProcessInfo.processInfo.environment["WAITROOM_SERVICE_KEY"] }

    @Option(help: "Example order service base URL: admitted shoppers check out there.")
    var orderService: String?

    @Option(name: .customLong("redis-url"), help: "Redis URL (default $WAITROOM_REDIS_URL), to sample memory, the queue and INFO commandstats.")
    var redisURLOption: String?

    /// The flag, else $WAITROOM_REDIS_URL.
    var redisURL: String? { redisURLOption ?? ProcessInfo.processInfo.environment["WAITROOM_REDIS_URL"] }

    @Option(name: .customLong("server-pid"), help: "Gate process ids, for peak RSS and CPU (repeatable).")
    var serverPIDs: [Int32] = []

    @Option(help: "HTTP connections per gate instance.")
    var connections = 256

    @Option(help: "Stop waiting for shoppers after this many seconds.")
    var timeLimit = 900.0

    @Option(help: "Directory for drop.json and drop.svg.")
    var out = "bench-results"

    @Option(name: .customLong("model-poll-us"), help: "The capacity model's gate CPU per status poll, µs (measure yours with scripts/gate-cpu.sh).")
    var modelPollMicroseconds = CapacityCheck.planMicrosecondsPerPoll

    @Option(name: .customLong("model-request-us"), help: "The capacity model's gate CPU per join, claim, consume or release, µs.")
    var modelRequestMicroseconds = CapacityCheck.planMicrosecondsPerRequest

    @Option(name: .customLong("poll-mode"), help: "How waiting shoppers follow the queue: board (read the room board, as the waiting page does) or status (poll status as told, as before the board).")
    var pollMode = DropPlan.PollMode.board

    @Option(name: .customLong("board-readers"), help: "Board mode: loops that read the board for all shoppers (each shopper acts on what they read).")
    var boardReaders = 4

    @Option(name: .customLong("gate-metrics"), help: "A gate's own base URL, to count the requests that reached it (repeat; default: the --gate URLs). Use when --gate is a cache in front of the gates.")
    var gateMetricsURLs: [String] = []

    @Flag(help: "Exit non-zero on any error or FIFO violation, or when a shopper never joined (for CI).")
    var check = false

    @Option(
        name: .customLong("errors-until"),
        help: "With --check: errors before this many seconds are allowed (an overload the drop must recover from), none after.")
    var errorsUntil: Double?

    func run() async throws {
        guard let curve = ArrivalCurve(arrivals) else { throw ValidationError("--arrivals: use spike[:f:s:t] or uniform:s") }
        guard (0...1).contains(abandon) else { throw ValidationError("--abandon must be between 0 and 1") }
        let gates = self.gates.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        guard opensIn == nil || resumeAfter == nil else { throw ValidationError("--opens-in or --resume-after, not both") }
        var roomCreated = ContinuousClock.now
        if let adminKey { roomCreated = try await createRoom(gate: gates[0], key: adminKey) }
        var plan = DropPlan(
            gateURLs: gates, room: room, shoppers: shoppers, arrivals: curve, abandonFraction: abandon, rate: rate,
            claimWindowSeconds: Double(claimWindow), orderServiceURL: orderService, serviceKey: serviceKey,
            connectionsPerGate: connections, timeLimitSeconds: timeLimit
        )
        plan.noShows = noShows
        plan.openingSeconds = opensIn ?? resumeAfter ?? 0
        plan.lottery = opensIn != nil
        plan.rampSeconds = rampSeconds.map(Double.init)
        plan.bots = bots
        plan.botClients = botClients
        plan.pollMode = pollMode
        plan.boardReaders = boardReaders
        let metricsGates = gateMetricsURLs.isEmpty ? gates : gateMetricsURLs
        let gateRequestsBefore = await Self.gateRequests(metricsGates)
        let redis = try redisURL.map { RedisClient(configuration: try RedisConfiguration(url: $0)) }
        // The gates' background work (refresh ticks, heartbeats) while nobody is there yet, for the capacity check.
        var gateIdleCoreShare = 0.0, redisIdleCoreShare = 0.0
        if let idleStart = Self.cpuSeconds(serverPIDs) {
            let redisIdleStart = try await RedisTotals.read(redis)
            try await Task.sleep(for: .seconds(3))
            gateIdleCoreShare = ((Self.cpuSeconds(serverPIDs) ?? idleStart) - idleStart) / 3
            if let redisIdleStart, let redisIdleEnd = try await RedisTotals.read(redis) {
                redisIdleCoreShare = (redisIdleEnd.cpuSeconds - redisIdleStart.cpuSeconds) / 3
            }
        }
        let redisBefore = try await RedisTotals.read(redis)
        let gateCPUBefore = Self.cpuSeconds(serverPIDs)
        let simulatorCPUBefore = Self.cpuSeconds([getpid()])
        let simulation = DropSimulation(plan: plan)
        // A scheduled opening counts from the room's creation, a moment before the simulation's clock starts.
        if let opensIn { plan.openingSeconds = opensIn - (simulation.started - roomCreated).seconds }
        let sampler = Task { await sample(simulation, redis: redis) }
        let resumer = Task {
            guard let resumeAfter, let adminKey else { return }
            try? await Task.sleep(for: .milliseconds(Int(resumeAfter * 1000)))
            _ = try? await AdminClient(baseURL: gates[0], key: adminKey).send(.POST, "/admin/v1/rooms/\(room)/resume")
        }
        let (outcomes, botOutcome) = await simulation.runWithBots()
        sampler.cancel()
        resumer.cancel()
        let samples = await sampler.value
        let redisAfter = try await RedisTotals.read(redis)
        let gateCPU = Self.cpuSeconds(serverPIDs).flatMap { after in gateCPUBefore.map { after - $0 } }
        var report = DropReport(
            plan: plan, outcomes: outcomes, bots: botOutcome, durationSeconds: simulation.elapsed, samples: samples,
            redisCommands: redisBefore.flatMap { before in redisAfter.map { $0.commands - before.commands } }, requests: simulation.live.snapshot.requests,
            serverPeakRSSBytes: Dictionary(uniqueKeysWithValues: serverPIDs.compactMap { pid in Self.peakRSS(pid).map { ("pid \(pid)", $0) } })
        )
        if !serverPIDs.isEmpty, redis != nil {
            // Joins, the claims (the poll that is admitted), and the order service's consume + release
            // (or the simulator's own release) are one script each: the model prices them as joins.
            let checkoutCalls = orderService != nil ? 2 : (serviceKey != nil ? 1 : 0)
            report.capacity = CapacityCheck(
                gates: gates.count, samples: samples, claimWindowSeconds: claimWindow,
                pollTimes: outcomes.flatMap { $0.polls.filter(\.waiting).map(\.startedAt) },
                otherRequests: report.joined + report.admitted * (1 + checkoutCalls), gateCPUSeconds: gateCPU, gateIdleCoreShare: gateIdleCoreShare,
                redisCPUSeconds: redisBefore.flatMap { before in redisAfter.map { $0.cpuSeconds - before.cpuSeconds } },
                redisIdleCoreShare: redisIdleCoreShare, admitted: report.admitted, durationSeconds: simulation.elapsed,
                microsecondsPerPoll: modelPollMicroseconds, microsecondsPerRequest: modelRequestMicroseconds
            )
            report.capacity?.boardMode = pollMode == .board ? true : nil
            report.redisMicrosecondsByCommand = redisBefore.flatMap { before in redisAfter.map { $0.microseconds(since: before) } }
        }
        if let before = simulatorCPUBefore, let after = Self.cpuSeconds([getpid()]), after > before {
            report.simulatorCPUSeconds = after - before
            report.shoppersPerSimulatorCore = report.shopperSeconds / (after - before)
        }
        if pollMode == .board {
            report.boardReads = simulation.boardReads
        }
        report.serverSide = await serverSideLatency(metricsGates)
        if let before = gateRequestsBefore, let after = await Self.gateRequests(metricsGates) {
            report.recordGateRequests(after.merging(before) { $0 - $1 })
        }
        print("")
        print(report.summary)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(report).write(to: URL(fileURLWithPath: out + "/drop.json"))
        try DropChart.svg(samples, title: "Drop: \(shoppers) shoppers, rate \(rate)/s, \(Int(abandon * 100))% abandoning")
            .write(toFile: out + "/drop.svg", atomically: true, encoding: .utf8)
        print("  report: \(out)/drop.json, chart: \(out)/drop.svg")
        if check {
            var failures: [String] = []
            if let last = report.lastErrorAt {
                if let errorsUntil {
                    if last > errorsUntil { failures.append(String(format: "errors went on until %.1f s, past %.1f s", last, errorsUntil)) }
                } else {
                    failures.append("errors")
                }
            }
            if let reads = report.boardReads, reads.failed > 0, let last = reads.lastFailedAt, last > (errorsUntil ?? -1) {
                failures.append(String(format: "%d board reads failed, the last at %.1f s", reads.failed, last))
            }
            if report.fifoViolations > 0 { failures.append("\(report.fifoViolations) FIFO violations") }
            if report.admitted == 0 { failures.append("nobody admitted") }
            if report.joined < report.shoppers { failures.append("\(report.shoppers - report.joined) shoppers never joined") }
            if !failures.isEmpty {
                print("check failed: " + failures.joined(separator: "; "))
                throw ExitCode.failure
            }
        }
    }

    /// p99 of join, status and claim from the gates' own histograms: latency without the simulator's queueing.
    /// Each gate's `/metrics` text (those that answered).
    static func expositions(_ gates: [String]) async -> [String] {
        var expositions: [String] = []
        for gate in gates {
            if let response = try? await HTTPClient.shared.execute(HTTPClientRequest(url: gate + "/metrics"), timeout: .seconds(5)),
                response.status == .ok, let body = try? await response.body.collect(upTo: 1 << 22)
            {
                expositions.append(String(buffer: body))
            }
        }
        return expositions
    }

    /// Requests the gates have answered so far, by route; nil unless every gate answered.
    static func gateRequests(_ gates: [String]) async -> [String: Int]? {
        let expositions = await expositions(gates)
        return expositions.count == gates.count ? DropAnalysis.gateRequests(in: expositions) : nil
    }

    private func serverSideLatency(_ gates: [String]) async -> [String: Double] {
        let expositions = await Self.expositions(gates)
        var result: [String: Double] = [:]
        for route in ["join", "status", "claim"] {
            let buckets = DropAnalysis.buckets(named: "waitroom_\(route)_duration_seconds", in: expositions)
            if let p99 = DropAnalysis.percentile(99, cumulativeBuckets: buckets) { result["\(route) p99 (bucket bound)"] = p99 * 1000 }
        }
        return result
    }

    /// Re-creates the room so the drop starts from an empty queue; returns when it was created.
    private func createRoom(gate: String, key: String) async throws -> ContinuousClock.Instant {
        let admin = AdminClient(baseURL: gate, key: key)
        _ = try? await admin.send(.DELETE, "/admin/v1/rooms/" + room)  // absent is fine
        var settings = RoomSettings(
            rate: rate, capacity: capacity, claimWindowSeconds: claimWindow, sessionTTLSeconds: sessionTTL,
            checkoutUrl: (orderService ?? "http://127.0.0.1:8081") + "/checkout", opensAt: opensIn.map { Date().addingTimeInterval($0) },
            rampSeconds: rampSeconds, rampStartRate: rampStartRate
        )
        if let joinsPerClient { settings.joinsPerClientPerMinute = joinsPerClient }
        if let powBits { settings.proofOfWorkBits = powBits }
        settings.autoTune = autoTune
        if let minRate { settings.minRate = minRate }
        if let targetLatencyMs { settings.targetLatencyMs = targetLatencyMs }
        if let maxErrorRatio { settings.maxErrorRatio = maxErrorRatio }
        let created = ContinuousClock.now
        _ = try await admin.send(.PUT, "/admin/v1/rooms/" + room, body: try SettingFlags.encode(settings.json))
        if resumeAfter != nil { _ = try await admin.send(.POST, "/admin/v1/rooms/\(room)/pause") }
        // Give every instance's cache a refresh to see the new room.
        try await Task.sleep(for: .milliseconds(500))
        return created
    }

    /// Once a second: progress line and a time-series sample.
    private func sample(_ simulation: DropSimulation, redis: RedisClient?) async -> [DropSample] {
        var samples: [DropSample] = []
        var lastRequests = 0
        let key = "wr:{\(room)}:room"
        while !Task.isCancelled {
            let live = simulation.live.snapshot
            var waiting: Int?
            var memory: Int?
            var offered: Int?
            var effectiveRate: Double?
            var rateReason: String?
            if let redis {
                // The room's counters from its node; memory summed over every primary (a Cluster has several).
                async let counters = try? redis.send(["HMGET", .init(key), "tail", "head", "rate", "autoTune", "effectiveRate", "rateReason", "minRate"])
                async let memoryInfo = try? redis.infoOnEveryPrimary("memory")
                if let fields = await counters?.array, fields.count == 7, let tail = fields[0].int, let head = fields[1].int {
                    waiting = Int(max(0, tail - head))
                    offered = Int(head)
                    // The rate the room admits at, as the admission model reads it (RoomSettings.admissionRate).
                    var settings = RoomSettings(rate: fields[2].string.flatMap(Double.init) ?? 0, checkoutUrl: "/")
                    settings.autoTune = fields[3].string == "1"
                    settings.effectiveRate = fields[4].string.flatMap(Double.init)
                    settings.minRate = fields[6].string.flatMap(Double.init) ?? 0
                    effectiveRate = settings.admissionRate
                    rateReason = fields[5].string
                }
                memory = await memoryInfo.map { nodes in nodes.reduce(0) { $0 + (Int($1["used_memory"] ?? "") ?? 0) } }
            }
            samples.append(
                DropSample(
                    t: simulation.elapsed, arrived: live.arrived, admitted: live.admitted, waiting: waiting, redisMemoryBytes: memory, offered: offered,
                    errors: live.errors, effectiveRate: effectiveRate, rateReason: rateReason))
            let line = String(
                format: "\rt=%4.0fs arrived %7d joined %7d admitted %7d waiting %7@ errors %4d req/s %6d   ",
                simulation.elapsed, live.arrived, live.joined, live.admitted, (waiting.map(String.init) ?? "?") as NSString, live.errors,
                live.requests - lastRequests
            )
            FileHandle.standardError.write(Data(line.utf8))
            lastRequests = live.requests
            if live.finished >= shoppers { break }
            try? await Task.sleep(for: .seconds(1))  // cancelled at the end: return what was sampled
        }
        return samples
    }

    /// Commands run and CPU used, summed over every primary (one server, or each node of a Cluster).
    struct RedisTotals {
        var commands = 0
        var cpuSeconds = 0.0
        /// `usec` of each command in `INFO commandstats` (scripts run as EVALSHA; their inner calls are counted too).
        var microsecondsByCommand: [String: Int] = [:]

        static func read(_ redis: RedisClient?) async throws -> RedisTotals? {
            guard let redis else { return nil }
            var totals = RedisTotals()
            for node in try await redis.infoOnEveryPrimary("all") {
                for (key, value) in node where key.hasPrefix("cmdstat_") && key != "cmdstat_info" {
                    // calls=N,usec=N,usec_per_call=…
                    let fields = Dictionary(value.split(separator: ",").compactMap { pair -> (String, Int)? in
                        let parts = pair.split(separator: "=")
                        return parts.count == 2 ? (String(parts[0]), Int(parts[1]) ?? 0) : nil
                    }, uniquingKeysWith: { first, _ in first })
                    totals.commands += fields["calls"] ?? 0
                    totals.microsecondsByCommand[String(key.dropFirst("cmdstat_".count)), default: 0] += fields["usec"] ?? 0
                }
                totals.cpuSeconds += (Double(node["used_cpu_user"] ?? "") ?? 0) + (Double(node["used_cpu_sys"] ?? "") ?? 0)
            }
            return totals
        }

        /// Microseconds per command since `earlier`, the commands that took any time.
        func microseconds(since earlier: RedisTotals) -> [String: Int] {
            microsecondsByCommand.compactMapValues { $0 }.reduce(into: [:]) { result, entry in
                let spent = entry.value - (earlier.microsecondsByCommand[entry.key] ?? 0)
                if spent > 0 { result[entry.key] = spent }
            }
        }
    }

    /// User + system CPU of these processes (`/proc/<pid>/stat`), nil when one cannot be read.
    static func cpuSeconds(_ pids: [Int32]) -> Double? {
        guard !pids.isEmpty else { return nil }
        var total = 0.0
        for pid in pids {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return nil }
            // After "pid (comm)": state is field 3, utime and stime fields 14 and 15, in clock ticks.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
            total += (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
        }
        return total
    }

    static func peakRSS(_ pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
        else { return nil }
        return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }.map { $0 * 1024 }
    }
}

extension DropPlan.PollMode: ExpressibleByArgument {}
