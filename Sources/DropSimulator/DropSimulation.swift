import AsyncHTTPClient
import Foundation
import Histogram
import NIOCore
import NIOHTTP1
import RedisClient
import Synchronization
import WaitingRoomCore
import WaitingRoomTokens

/// Runs a simulated drop: every shopper is a small state machine (join → poll as told → claim → check out)
/// running as a task; thousands share a few hundred pooled connections.
///
/// Overload-proof by construction: each host gets at most as many requests at once as it has connections
/// (``RequestSlots``), so the HTTP client never queues; every request has its shopper's own deadline (waiting
/// for a slot included), and a shopper whose request failed backs off (doubling, with jitter) as a browser
/// would, instead of retrying at once. When the gates or the machine recover, so does the simulator.
public final class DropSimulation: Sendable {
    public let plan: DropPlan
    private let client: HTTPClient
    /// One bound per host (each gate, the order service): never more requests in flight than connections.
    private let slots: [String: RequestSlots]
    /// How long a shopper waits for one answer, a slot's wait included.
    static let requestDeadline: Duration = .seconds(10)
    /// Shoppers per task group (see ``runWithBots()``).
    static let shoppersPerGroup = 256
    /// When the drop began: every time in the outcomes is seconds since this.
    public let started = ContinuousClock.now
    let counters = LiveCounters()
    /// Board mode: the board as the reader loops last read it.
    let board = BoardWatch()

    /// Board mode: the reader loops' reads so far.
    public var boardReads: DropReport.BoardReads { board.reads }

    public init(plan: DropPlan) {
        self.plan = plan
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = plan.connectionsPerGate
        configuration.connectionPool.idleTimeout = .seconds(120)
        configuration.timeout.connect = .seconds(10)
        configuration.timeout.read = .seconds(30)
        // No spans: the simulator traces nothing, and building each request's span attributes cost 5% of its CPU.
        configuration.tracing.tracer = nil
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let hosts = plan.gateURLs + (plan.orderServiceURL.map { [$0] } ?? [])
        slots = Dictionary(hosts.map { ($0, RequestSlots(limit: max(1, plan.connectionsPerGate))) }, uniquingKeysWith: { first, _ in first })
    }

    /// Live figures for the progress line and the time series.
    public final class LiveCounters: Sendable {
        let arrived = Atomic<Int>(0)
        let joined = Atomic<Int>(0)
        let admitted = Atomic<Int>(0)
        let finished = Atomic<Int>(0)
        let errors = Atomic<Int>(0)
        let requests = Atomic<Int>(0)

        public var snapshot: (arrived: Int, joined: Int, admitted: Int, finished: Int, errors: Int, requests: Int) {
            (arrived.load(ordering: .relaxed), joined.load(ordering: .relaxed), admitted.load(ordering: .relaxed),
             finished.load(ordering: .relaxed), errors.load(ordering: .relaxed), requests.load(ordering: .relaxed))
        }
    }

    public var live: LiveCounters { counters }

    /// What the bots got: places (their seqs) and refusals.
    public struct BotOutcome: Sendable {
        public var seqs: [Int64] = []
        public var refused: [String: Int] = [:]
        public var proofsSolved = 0

        public init() {}
    }

    /// Seconds since the simulation started.
    public var elapsed: Double {
        (ContinuousClock.now - started).seconds
    }

    /// What one shopper lived through.
    public struct ShopperOutcome: Sendable {
        public var seq: Int64?
        /// When the shopper arrived (before joining: a proof of work and refusals count against the wait).
        public var arrivedAt: Double?
        public var joinedAt: Double?
        public var admittedAt: Double?
        public var abandoned: Bool
        public var expired: Bool
        public var polls: [PollObservation] = []
        public var joinLatency: Double?
        public var statusLatencies: [Double] = []
        public var claimLatency: Double?
        public var errors: [String: Int] = [:]
        /// When this shopper's simulation ended (admitted and checked out, gone, or out of time).
        public var leftAt: Double?
        /// When the last request of this shopper's that failed was sent (seconds since start): the report's
        /// "errors stopped at".
        public var lastErrorAt: Double?
        /// The first ETA range this shopper was shown, and when (seconds since start).
        public var firstETA: ShownETA?
        /// The checkout (the order service's answer): when it was sent, how long it took, whether it succeeded.
        public var checkout: Checkout?
    }

    /// One checkout as the shopper saw it.
    public struct Checkout: Sendable, Codable, Equatable {
        public var at: Double
        public var seconds: Double
        public var ok: Bool
    }

    /// An ETA range as shown to a shopper.
    public struct ShownETA: Sendable, Codable, Equatable {
        public var at: Double
        public var low: Int
        public var high: Int

        public init(at: Double, low: Int, high: Int) {
            self.at = at
            self.low = low
            self.high = high
        }
    }

    /// Runs every shopper to the end and returns their outcomes.
    public func run() async -> [ShopperOutcome] {
        await runWithBots().shoppers
    }

    /// Runs every shopper (and the bots, when the plan has any) to the end.
    public func runWithBots() async -> (shoppers: [ShopperOutcome], bots: BotOutcome) {
        let offsets = plan.arrivals.offsets(count: plan.shoppers)
        async let bots = self.bots()
        let readers = plan.pollMode == .board ? Task { await self.readBoard() } : nil
        let deadline = Task {
            try? await Task.sleep(for: .milliseconds(Int(self.plan.timeLimitSeconds * 1000)))
            self.board.finish()
        }
        // The runtime keeps a task group's children in a list it walks to remove each child that ends: one
        // group of 100,000 shoppers spent a third of the simulator's CPU in that walk (perf: TaskGroup::
        // removeChildTask) and the simulator, not the gates, limited the drop. Groups of a few hundred
        // shoppers (every `groups`-th arrival, so each spans the whole drop) keep the walk short.
        let groups = max(1, (offsets.count + Self.shoppersPerGroup - 1) / Self.shoppersPerGroup)
        let outcomes = await withTaskGroup(of: [ShopperOutcome].self, returning: [ShopperOutcome].self) { group in
            for first in 0..<groups {
                group.addTask {
                    await withTaskGroup(of: ShopperOutcome.self, returning: [ShopperOutcome].self) { shoppers in
                        for index in stride(from: first, to: offsets.count, by: groups) {
                            shoppers.addTask { await self.shopper(index: index, arrivesAt: offsets[index]) }
                        }
                        var outcomes: [ShopperOutcome] = []
                        for await outcome in shoppers { outcomes.append(outcome) }
                        return outcomes
                    }
                }
            }
            var outcomes: [ShopperOutcome] = []
            outcomes.reserveCapacity(offsets.count)
            for await some in group { outcomes += some }
            return outcomes
        }
        let botOutcome = await bots
        readers?.cancel()
        _ = await readers?.value
        deadline.cancel()
        try? await client.shutdown()
        return (outcomes, botOutcome)
    }

    /// `plan.bots` joins from `plan.botClients` addresses, each client joining back to back on four loops
    /// (solving a proof of work when asked, as a bot farm would), never polling.
    private func bots() async -> BotOutcome {
        guard plan.bots > 0 else { return BotOutcome() }
        let clients = max(1, plan.botClients)
        return await withTaskGroup(of: BotOutcome.self, returning: BotOutcome.self) { group in
            // Each bot client keeps four joins in flight (as fast as the gates answer, but not a flood that
            // would only measure the simulator).
            let loops = clients * 4
            for loop in 0..<loops {
                let client = loop % clients
                let attempts = plan.bots / loops + (loop < plan.bots % loops ? 1 : 0)
                group.addTask {
                    var outcome = BotOutcome()
                    let gate = self.plan.gateURLs[client % self.plan.gateURLs.count]
                    for _ in 0..<attempts {
                        let (result, solved) = await self.join(gate, address: DropPlan.botAddress(client))
                        outcome.proofsSolved += solved
                        switch result {
                        case .success(let reply) where reply.status == 200:
                            if let ticket = reply.ticket, let dot = ticket.lastIndex(of: "."), let parsed = QueueTicket(payload: ticket[..<dot]) {
                                outcome.seqs.append(parsed.seq)
                            }
                        case .success(let reply): outcome.refused["join \(reply.status)", default: 0] += 1
                        case .failure(let error): outcome.refused["join \(error)", default: 0] += 1
                        }
                    }
                    return outcome
                }
            }
            var total = BotOutcome()
            for await outcome in group {
                total.seqs += outcome.seqs
                total.proofsSolved += outcome.proofsSolved
                for (kind, count) in outcome.refused { total.refused[kind, default: 0] += count }
            }
            return total
        }
    }

    /// One join from `address`; when the gate asks for a proof of work (428), solves it and joins again.
    private func join(_ gate: String, address: String) async -> (Result<Reply, HTTPClientError>, solved: Int) {
        let path = "/v1/rooms/\(plan.room)/join"
        let first = await call(.POST, gate, path, headers: [("X-Forwarded-For", address)])
        guard case .success(let reply) = first, reply.status == 428, let challenge = reply.challenge, let bits = reply.bits else { return (first, 0) }
        let nonce = ProofOfWork.solve(challenge, bits: bits)
        let solved = await call(.POST, gate, path, headers: [("X-Forwarded-For", address), ("X-Waitroom-Pow-Challenge", challenge), ("X-Waitroom-Pow-Nonce", nonce)])
        return (solved, 1)
    }

    private func shopper(index: Int, arrivesAt offset: Double) async -> ShopperOutcome {
        var outcome = await visit(index: index, arrivesAt: offset)
        outcome.leftAt = elapsed
        counters.finished.add(1, ordering: .relaxed)
        return outcome
    }

    /// One shopper's visit: arrive, join, poll as told, claim, check out (or give up).
    private func visit(index: Int, arrivesAt offset: Double) async -> ShopperOutcome {
        var outcome = ShopperOutcome(abandoned: plan.abandons(index), expired: false)
        let wait = offset - elapsed
        if wait > 0 { try? await Task.sleep(for: .milliseconds(Int(wait * 1000))) }
        counters.arrived.add(1, ordering: .relaxed)
        outcome.arrivedAt = elapsed
        let joinGate = plan.gateURLs[index % plan.gateURLs.count]
        let pollGate = plan.gateURLs[(index + 1) % plan.gateURLs.count]

        // Join, retrying as the waiting page does (backing off) until the shopper's time runs out.
        var ticket: String?
        var joinedPlace: Int64?
        var pollAfter = 1_000
        var backoff = RetryBackoff(seed: UInt64(index))
        while elapsed < plan.timeLimitSeconds {
            let begun = elapsed
            switch await join(joinGate, address: DropPlan.shopperAddress(index)).0 {
            case .success(let reply) where reply.status == 200:
                outcome.joinLatency = elapsed - begun
                ticket = reply.ticket
                joinedPlace = reply.place
                pollAfter = reply.pollAfterMs ?? 1_000
                outcome.firstETA = reply.eta.map { ShownETA(at: elapsed, low: $0.low, high: $0.high) }
            case .success(let reply):
                outcome.recordError("join \(reply.status)", sentAt: begun)
            case .failure(let error):
                outcome.recordError("join \(error)", sentAt: begun)
            }
            if ticket != nil { break }
            try? await Task.sleep(for: backoff.next())
        }
        guard let ticket, let dot = ticket.lastIndex(of: "."), let parsed = QueueTicket(payload: ticket[..<dot]) else { return outcome }
        counters.joined.add(1, ordering: .relaxed)
        outcome.seq = parsed.seq
        outcome.joinedAt = elapsed
        if plan.pollMode == .board {
            await followBoard(index: index, ticket: ticket, seq: parsed.seq, place: joinedPlace, pollGate: pollGate, outcome: &outcome)
            return outcome
        }
        // An abandoning shopper polls a few times at most, then closes the tab.
        var pollsLeft = index < plan.noShows ? 0 : outcome.abandoned ? index % 3 : Int.max

        while elapsed < plan.timeLimitSeconds {
            guard pollsLeft > 0 else { return outcome }
            pollsLeft -= 1
            try? await Task.sleep(for: .milliseconds(max(pollAfter, 100)))
            let begun = elapsed
            let result = await call(.GET, pollGate, "/v1/rooms/\(plan.room)/status", bearer: ticket)
            let latency = elapsed - begun
            guard case .success(let reply) = result, reply.status == 200, let state = reply.state else {
                switch result {
                case .success(let reply): outcome.recordError("status \(reply.status)", sentAt: begun)
                case .failure(let error): outcome.recordError("status \(error)", sentAt: begun)
                }
                pollAfter = Int(backoff.next().seconds * 1000)
                continue
            }
            backoff.reset()
            observe(reply, state: state, seq: parsed.seq, sentAt: begun, outcome: &outcome)
            pollAfter = reply.pollAfterMs ?? 1_000
            switch state {
            case "admitted", "entering" where reply.token != nil:
                await admitted(reply, latency: latency, outcome: &outcome)
                return outcome
            case "expired":
                outcome.expired = true
                return outcome
            case "closed":
                return outcome
            default:
                outcome.statusLatencies.append(latency)
            }
        }
        return outcome
    }

    /// Board mode, after the join: wait (as the page does, on the board) until the turn has come, then claim
    /// through `status` and check out. An abandoning shopper reads the board a few times and leaves.
    private func followBoard(index: Int, ticket: String, seq: Int64, place joinedPlace: Int64?, pollGate: String, outcome: inout ShopperOutcome) async {
        if index < plan.noShows { return }
        let readAfterMs = board.latest?.readAfterMs ?? 2_000
        if outcome.abandoned {
            try? await Task.sleep(for: .milliseconds(index % 3 * readAfterMs))
            return
        }
        var place = joinedPlace
        var backoff = RetryBackoff(seed: UInt64(index) &+ 1)
        // Where within its read interval this shopper's page reads (fixed per shopper, spread over everyone).
        let phase = Double(UInt64(index) &* 0x9E37_79B9 % 1_000) / 1_000
        while elapsed < plan.timeLimitSeconds {
            let view = await board.wait(place: place)
            guard elapsed < plan.timeLimitSeconds, view.state != "closed" else { return }
            try? await Task.sleep(for: .milliseconds(Int(phase * Double(view.readAfterMs))))
            // The turn has come (or the room opened on a pre-queue): ask the gate, which claims.
            while elapsed < plan.timeLimitSeconds {
                let begun = elapsed
                let result = await call(.GET, pollGate, "/v1/rooms/\(plan.room)/status", bearer: ticket)
                guard case .success(let reply) = result, reply.status == 200, let state = reply.state else {
                    switch result {
                    case .success(let reply): outcome.recordError("status \(reply.status)", sentAt: begun)
                    case .failure(let error): outcome.recordError("status \(error)", sentAt: begun)
                    }
                    try? await Task.sleep(for: backoff.next())
                    continue
                }
                backoff.reset()
                let latency = elapsed - begun
                observe(reply, state: state, seq: seq, sentAt: begun, outcome: &outcome)
                place = reply.place ?? place
                switch state {
                case "admitted", "entering" where reply.token != nil:
                    await admitted(reply, latency: latency, outcome: &outcome)
                    return
                case "expired":
                    outcome.expired = true
                    return
                case "closed", "done":
                    return
                default:
                    outcome.statusLatencies.append(latency)
                }
                // Entering (an entry moment reserved) or the gate a moment behind: ask again when told. Anything
                // else (the board this page read was ahead of the gate's): back to the board after that wait.
                let again = state == "entering" || (state == "waiting" && reply.position == 0)
                let told = max(reply.pollAfterMs ?? 1_000, 100)
                try? await Task.sleep(for: .milliseconds(again ? told : min(told, view.readAfterMs)))
                if again { continue }
                break
            }
        }
    }

    /// Board mode: `plan.boardReaders` loops read the board through the front (the cache, or a gate),
    /// staggered so that together they read it `boardReaders` times per read interval.
    private func readBoard() async {
        await withTaskGroup(of: Void.self) { group in
            let readers = max(1, plan.boardReaders)
            for reader in 0..<readers {
                group.addTask {
                    let front = self.plan.gateURLs[reader % self.plan.gateURLs.count]
                    var interval = 2_000
                    try? await Task.sleep(for: .milliseconds(interval * reader / readers))
                    while !Task.isCancelled {
                        let sent = self.elapsed
                        if case .success(let reply) = await self.call(.GET, front, "/v1/rooms/\(self.plan.room)/board"), reply.status == 200,
                            let state = reply.state, let head = reply.head
                        {
                            interval = max(100, reply.readAfterMs ?? interval)
                            self.board.update(BoardWatch.View(state: state, head: head, readAfterMs: interval, readAt: sent))
                        } else if !Task.isCancelled {
                            self.board.failed(at: sent)
                        }
                        try? await Task.sleep(for: .milliseconds(interval))
                    }
                }
            }
        }
    }

    /// A status answer as the shopper saw it: the poll (for the FIFO check) and the first ETA shown.
    private func observe(_ reply: Reply, state: String, seq: Int64, sentAt begun: Double, outcome: inout ShopperOutcome) {
        outcome.polls.append(PollObservation(seq: seq, startedAt: begun, waiting: state == "waiting"))
        if outcome.firstETA == nil, let eta = reply.eta { outcome.firstETA = ShownETA(at: elapsed, low: eta.low, high: eta.high) }
    }

    /// The answer that admitted the shopper: counted, then checked out — at the entry moment, as the page
    /// goes, when the token came early with `entering`.
    private func admitted(_ reply: Reply, latency: Double, outcome: inout ShopperOutcome) async {
        if let wait = reply.entersInMs, wait > 0 { try? await Task.sleep(for: .milliseconds(wait)) }
        outcome.claimLatency = latency
        outcome.admittedAt = elapsed
        counters.admitted.add(1, ordering: .relaxed)
        if let token = reply.token { await checkOut(token: token, outcome: &outcome) }
    }

    /// Places the order (consume + release at the gate, by the order service) or releases the slot directly.
    private func checkOut(token: String, outcome: inout ShopperOutcome) async {
        let begun = elapsed
        let result: Result<Reply, HTTPClientError>
        if let orders = plan.orderServiceURL {
            result = await call(.POST, orders, "/checkout/order", bearer: token)
        } else if let key = plan.serviceKey {
            result = await call(.POST, plan.gateURLs[0], "/v1/admissions/release", bearer: key, body: #"{"token":"\#(token)"}"#)
        } else {
            return
        }
        switch result {
        case .success(let reply) where reply.status < 300: break
        case .success(let reply): outcome.recordError("checkout \(reply.status)", sentAt: begun)
        case .failure(let error): outcome.recordError("checkout \(error)", sentAt: begun)
        }
        if case .success(let reply) = result { outcome.checkout = Checkout(at: begun, seconds: elapsed - begun, ok: reply.status < 300) }
        else { outcome.checkout = Checkout(at: begun, seconds: elapsed - begun, ok: false) }
    }

    /// The few fields a shopper reads from a gate answer, picked out without a JSON library: the simulator
    /// shares the machine with the gates, so its own cost per request is kept small.
    struct Reply: Sendable {
        var status: Int
        var state: String?
        var ticket: String?
        var token: String?
        var pollAfterMs: Int?
        /// With an early token (`entering`): how long until the entry moment.
        var entersInMs: Int?
        /// The shopper's place (join and status), or the board's head; nil when null or absent.
        var place: Int64?
        var head: Int64?
        var position: Int64?
        var readAfterMs: Int?
        /// `etaSeconds` (its only fields are `low` and `high`); nil when null or absent.
        var eta: (low: Int, high: Int)?
        /// A proof-of-work challenge (428) and its difficulty.
        var challenge: String?
        var bits: Int?

        init(status: Int, body: String) {
            self.init(status: status, bytes: Array(body.utf8))
        }

        init(status: Int, bytes: [UInt8]) {
            self.status = status
            state = Self.string("state", in: bytes)
            ticket = Self.string("ticket", in: bytes)
            token = Self.string("token", in: bytes)
            pollAfterMs = Self.integer("pollAfterMs", in: bytes)
            entersInMs = token == nil ? nil : Self.integer("entersInMs", in: bytes)
            place = Self.integer("place", in: bytes).map(Int64.init)
            position = Self.integer("position", in: bytes).map(Int64.init)
            head = Self.integer("head", in: bytes).map(Int64.init)
            readAfterMs = Self.integer("readAfterMs", in: bytes)
            if let low = Self.integer("low", in: bytes), let high = Self.integer("high", in: bytes) { eta = (low, high) }
            if status == 428 {
                challenge = Self.string("challenge", in: bytes)
                bits = Self.integer("bits", in: bytes)
            }
        }

        /// Where the value of the first `"key":` begins. On bytes, not `String`: a `String` search compares
        /// characters (graphemes), and parsing answers that way took a fifth of the simulator's CPU (perf).
        static func valueStart(_ key: String, in bytes: [UInt8]) -> Int? {
            let pattern = Array("\"\(key)\":".utf8)
            guard bytes.count >= pattern.count else { return nil }
            var index = 0
            while index <= bytes.count - pattern.count {
                var matched = 0
                while matched < pattern.count && bytes[index + matched] == pattern[matched] { matched += 1 }
                if matched == pattern.count { return index + matched }
                index += 1
            }
            return nil
        }

        static func string(_ key: String, in bytes: [UInt8]) -> String? {
            guard let start = valueStart(key, in: bytes), start < bytes.count, bytes[start] == UInt8(ascii: "\"") else { return nil }
            guard let end = bytes[(start + 1)...].firstIndex(of: UInt8(ascii: "\"")) else { return nil }
            return String(decoding: bytes[(start + 1)..<end], as: UTF8.self)
        }

        static func integer(_ key: String, in bytes: [UInt8]) -> Int? {
            guard let start = valueStart(key, in: bytes) else { return nil }
            var value = 0
            var index = start
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                let (times, overflow) = value.multipliedReportingOverflow(by: 10)
                guard !overflow else { return nil }
                value = times + Int(bytes[index] - UInt8(ascii: "0"))
                index += 1
            }
            return index > start ? value : nil
        }
    }

    /// One request to `host` + `path`, within ``requestDeadline`` from now (the wait for a slot included).
    private func call(
        _ method: HTTPMethod, _ host: String, _ path: String, bearer: String? = nil, body: String? = nil, headers: [(String, String)] = []
    ) async -> Result<Reply, HTTPClientError> {
        let deadline = ContinuousClock.now + Self.requestDeadline
        guard let bound = slots[host] else { return await send(method, host + path, deadline: deadline, bearer: bearer, body: body, headers: headers) }
        let answer = await bound.run(before: deadline) {
            await self.send(method, host + path, deadline: deadline, bearer: bearer, body: body, headers: headers)
        }
        guard let answer else {
            counters.requests.add(1, ordering: .relaxed)
            counters.errors.add(1, ordering: .relaxed)
            return .failure(.deadlineExceeded)
        }
        return answer
    }

    private func send(
        _ method: HTTPMethod, _ url: String, deadline: ContinuousClock.Instant, bearer: String?, body: String?, headers: [(String, String)]
    ) async -> Result<Reply, HTTPClientError> {
        counters.requests.add(1, ordering: .relaxed)
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let bearer { request.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        do {
            let left = max(.milliseconds(1), deadline - ContinuousClock.now)
            let response = try await client.execute(request, timeout: .nanoseconds(Int64(left.seconds * 1e9)))
            let bytes = try await response.body.collect(upTo: 1 << 20)
            return .success(Reply(status: Int(response.status.code), bytes: Array(bytes.readableBytesView)))
        } catch let error as HTTPClientError {
            counters.errors.add(1, ordering: .relaxed)
            return .failure(error)
        } catch {
            counters.errors.add(1, ordering: .relaxed)
            return .failure(.remoteConnectionClosed)
        }
    }
}

extension DropSimulation.ShopperOutcome {
    /// Counts a failed request, dated by when it was sent: a request that waited out its 10 s deadline
    /// failed because of what happened when it was sent, not when the deadline passed.
    mutating func recordError(_ kind: String, sentAt time: Double) {
        errors[kind, default: 0] += 1
        lastErrorAt = max(lastErrorAt ?? time, time)
    }
}

/// How long a shopper waits before trying again after a failed request: doubling from half a second to eight,
/// each wait drawn uniformly from its upper half (jitter, so a crowd that failed together does not come back
/// together). Seeded per shopper: a run is repeatable.
struct RetryBackoff {
    private var attempt = 0
    private var random: UInt64

    init(seed: UInt64) { random = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }

    mutating func next() -> Duration {
        let ceiling = min(8.0, 0.5 * Double(1 << min(attempt, 4)))
        attempt += 1
        // xorshift64*: a cheap, repeatable stream per shopper.
        random ^= random >> 12
        random ^= random << 25
        random ^= random >> 27
        let unit = Double((random &* 0x2545_F491_4F6C_DD1D) >> 11) / Double(1 << 53)
        return .milliseconds(Int((ceiling / 2 + unit * ceiling / 2) * 1000))
    }

    mutating func reset() { attempt = 0 }
}
