import Logging
import NIOCore
import Synchronization

/// Redis Cluster routing for one client: the slot map (from `CLUSTER SLOTS`), one pipelined connection
/// per primary, and the redirects (`MOVED`: the slot lives elsewhere now, patch the map and refresh it;
/// `ASK`: the slot is migrating, send that one command to the importing node after `ASKING`).
///
/// A pipeline is split by node, in order, each node's share in one write, all nodes at once: a refresh
/// tick of many rooms costs one round trip per node. A command that names no key (`WAIT`, `ASKING`) goes
/// with the command before it; a `WAIT` that ends a pipeline is sent to every node the pipeline wrote to:
/// each command's promise rests on its own node's answer (``pipeline(_:wait:)``), or the whole pipeline's
/// on the smallest count (``pipeline(_:)``).
final class ClusterRouter: Sendable {
    private struct State {
        /// Slot → index into `nodes`; -1 while unknown.
        var slots = [Int](repeating: -1, count: ClusterSlot.count)
        var nodes: [RedisConfiguration.Endpoint] = []
        var connections: [RedisConfiguration.Endpoint: RedisConnection] = [:]
        var refreshing: Task<Void, any Error>?
        var closed = false
    }

    private let configuration: RedisConfiguration
    private let seeds: [RedisConfiguration.Endpoint]
    private let eventLoop: any EventLoop
    private let counters: RedisCounters
    private let logger: Logger
    private let events: (@Sendable (RedisClientEvent) -> Void)?
    private let state = Mutex(State())
    /// Redirects followed for one command before giving up (a slot moving back and forth, a broken map).
    private let maxRedirects = 5

    init(
        configuration: RedisConfiguration, seeds: [RedisConfiguration.Endpoint], eventLoop: any EventLoop, counters: RedisCounters,
        logger: Logger, events: (@Sendable (RedisClientEvent) -> Void)?
    ) {
        self.configuration = configuration
        self.seeds = seeds
        self.eventLoop = eventLoop
        self.counters = counters
        self.logger = logger
        self.events = events
    }

    var isConnected: Bool {
        state.withLock { $0.connections.values.contains { $0.isConnected } }
    }

    func close() {
        let connections = state.withLock { state in
            state.closed = true
            return Array(state.connections.values)
        }
        for connection in connections { connection.close() }
    }

    // MARK: - Sending

    /// One unit of routing: a command with a key and the keyless commands after it.
    private struct Unit {
        var indices: [Int]
        var slot: Int?
    }

    func pipeline(_ commands: [[RedisArgument]]) async throws(RedisError) -> [RedisReply] {
        guard commands.count > 1, let last = commands.last, Self.name(last) == "WAIT" else {
            return try await pipeline(commands, wait: nil).replies.map { result throws(RedisError) in try result.get() }
        }
        let (results, waits) = try await pipeline(Array(commands.dropLast()), wait: last)
        let replies = try results.map { result throws(RedisError) in try result.get() }
        // The replicas that hold all of it: the smallest count (an error reply from a WAIT: the caller reports it).
        var acknowledged = Int64.max
        for answer in waits {
            guard case .integer(let count) = answer else { return replies + [answer] }
            acknowledged = min(acknowledged, count)
        }
        return replies + [.integer(acknowledged == .max ? 0 : acknowledged)]
    }

    /// Sends each command to its key's node (a keyless one with the command before it), each node's share in
    /// one write, all nodes at once; with `wait`, each node's write ends with it. Returns the replies in order
    /// and, with `wait`, for each command the `WAIT` answer of the node that ran it: a node whose replica is
    /// cut fails only its own commands' promise, not the other nodes'. A node that cannot be reached (or
    /// times out) fails its own commands only: the others' were written and are answered.
    func pipeline(_ body: [[RedisArgument]], wait: [RedisArgument]?) async throws(RedisError) -> (replies: [Result<RedisReply, RedisError>], waits: [RedisReply]) {
        if state.withLock({ $0.nodes.isEmpty }) { try await refresh() }
        var units: [Unit] = []
        for (index, command) in body.enumerated() {
            if let key = ClusterSlot.key(of: command) {
                units.append(Unit(indices: [index], slot: ClusterSlot.of(key)))
            } else if units.isEmpty {
                units.append(Unit(indices: [index], slot: nil))
            } else {
                units[units.count - 1].indices.append(index)
            }
        }
        var replies = [Result<RedisReply, RedisError>](repeating: .success(.null), count: body.count)
        var waits = [RedisReply](repeating: .null, count: wait == nil ? 0 : body.count)
        // First round by the slot map, then the redirected units, each to the node that was named.
        var pending: [(unit: Unit, endpoint: RedisConfiguration.Endpoint, asking: Bool)] = try units.map { unit throws(RedisError) in
            (unit, try endpoint(for: unit.slot), false)
        }
        var round = 0
        while !pending.isEmpty {
            round += 1
            var byNode: [RedisConfiguration.Endpoint: [(unit: Unit, asking: Bool)]] = [:]
            var order: [RedisConfiguration.Endpoint] = []
            for item in pending {
                if byNode[item.endpoint] == nil { order.append(item.endpoint) }
                byNode[item.endpoint, default: []].append((item.unit, item.asking))
            }
            let results = await sendEach(order.map { endpoint in
                var batch: [[RedisArgument]] = []
                for (unit, asking) in byNode[endpoint]! {
                    if asking { batch.append(["ASKING"]) }
                    batch += unit.indices.map { body[$0] }
                }
                if let wait { batch.append(wait) }
                return (endpoint, batch)
            })
            pending = []
            var moved = false
            for (endpoint, result) in zip(order, results) {
                let nodeReplies: [RedisReply]
                switch result {
                case .success(let answered): nodeReplies = answered
                case .failure(let error):
                    for (unit, _) in byNode[endpoint]! { for index in unit.indices { replies[index] = .failure(error) } }
                    continue
                }
                var cursor = 0
                for (unit, asking) in byNode[endpoint]! {
                    if asking { cursor += 1 }
                    let first = nodeReplies[cursor]
                    if let redirect = Self.redirect(first), round <= maxRedirects {
                        if !redirect.ask {
                            moved = true
                            patch(slot: redirect.slot, to: redirect.endpoint)
                        }
                        pending.append((unit, redirect.endpoint, redirect.ask))
                    } else {
                        for (offset, index) in unit.indices.enumerated() {
                            replies[index] = .success(nodeReplies[cursor + offset])
                            if wait != nil { waits[index] = nodeReplies[nodeReplies.count - 1] }
                        }
                    }
                    cursor += unit.indices.count
                }
            }
            if moved { refreshInBackground() }
        }
        return (replies, waits)
    }

    /// Sends one command to every primary; one reply per primary, in the slot map's node order.
    func everyPrimary(_ command: [RedisArgument]) async throws(RedisError) -> [RedisReply] {
        if state.withLock({ $0.nodes.isEmpty }) { try await refresh() }
        let nodes = state.withLock { $0.nodes }
        return try await send(nodes.map { ($0, [command]) }).map { $0[0] }
    }

    /// Each node's batch in one write, all nodes concurrently; replies in the same order (the first failure thrown).
    private func send(_ batches: [(RedisConfiguration.Endpoint, [[RedisArgument]])]) async throws(RedisError) -> [[RedisReply]] {
        try await sendEach(batches).map { result throws(RedisError) in try result.get() }
    }

    /// Each node's batch in one write, all nodes concurrently; each node's replies or failure, in the same order.
    ///
    /// The child tasks return a `Result` from a call that cannot throw — no `do`/`catch` around an `await`
    /// in them. Swift 6.3.1's optimizer miscompiles `addTask { do { return (index, .success(try await …)) }
    /// catch { … } }`: in a release build the index, read before the suspension, comes back as 0, so every
    /// node's replies landed in slot 0 and the other slots stayed empty (the release-only crash at start-up on
    /// a Cluster, `everyPrimary` reading `[0]` of an empty list). Reproduction: scripts/compiler/.
    private func sendEach(_ batches: [(RedisConfiguration.Endpoint, [[RedisArgument]])]) async -> [Result<[RedisReply], RedisError>] {
        if batches.count == 1 { return [await result(of: batches[0].1, from: batches[0].0)] }
        let results = await withTaskGroup(of: (Int, Result<[RedisReply], RedisError>).self) { group in
            for (index, (endpoint, commands)) in batches.enumerated() {
                group.addTask { (index, await self.result(of: commands, from: endpoint)) }
            }
            var results = [Result<[RedisReply], RedisError>?](repeating: nil, count: batches.count)
            for await (index, result) in group { results[index] = result }
            return results
        }
        // Every node answers once, in its own slot; anything else is a bug here, not a reply to route.
        return results.enumerated().map { index, result in
            let (endpoint, commands) = batches[index]
            switch result {
            case nil: return .failure(.protocolError("no answer recorded for \(endpoint)"))
            case .success(let replies)? where replies.count != commands.count:
                return .failure(.protocolError("\(replies.count) replies to \(commands.count) commands from \(endpoint)"))
            case let result?: return result
            }
        }
    }

    private func send(_ commands: [[RedisArgument]], to endpoint: RedisConfiguration.Endpoint) async throws(RedisError) -> [RedisReply] {
        try await result(of: commands, from: endpoint).get()
    }

    /// One node's batch in one write: its replies, or why there are none.
    private func result(of commands: [[RedisArgument]], from endpoint: RedisConfiguration.Endpoint) async -> Result<[RedisReply], RedisError> {
        var encoded: [UInt8] = []
        for command in commands { RESPEncoder.encode(command, into: &encoded) }
        let result = await connection(to: endpoint).submit(encoded, count: commands.count)
        if case .failure(let error) = result, error.isConnectivity {
            // A node that cannot be reached may have failed over: learn the new map.
            refreshInBackground()
        }
        return result
    }

    // MARK: - The slot map

    private func endpoint(for slot: Int?) throws(RedisError) -> RedisConfiguration.Endpoint {
        try state.withLock { state throws(RedisError) in
            if let slot {
                let index = state.slots[slot]
                guard index >= 0 else { throw .server("CLUSTERDOWN Hash slot \(slot) not served (no node in the slot map)") }
                return state.nodes[index]
            }
            guard let any = state.nodes.first else { throw .notConnected("no cluster node known") }
            return any
        }
    }

    private func connection(to endpoint: RedisConfiguration.Endpoint) -> RedisConnection {
        if let existing = state.withLock({ $0.connections[endpoint] }) { return existing }
        var node = configuration
        node.endpoint = endpoint
        node.topology = .single
        node.database = 0
        // Made outside the lock (TLS files are read here); the first one stored wins.
        let made = RedisConnection(configuration: node, eventLoop: eventLoop, counters: counters, logger: logger, events: events)
        let (chosen, extra) = state.withLock { state -> (RedisConnection, RedisConnection?) in
            if let existing = state.connections[endpoint] { return (existing, made) }
            if state.closed { return (made, made) }
            state.connections[endpoint] = made
            return (made, nil)
        }
        extra?.close()
        return chosen
    }

    private func patch(slot: Int, to endpoint: RedisConfiguration.Endpoint) {
        state.withLock { state in
            if let index = state.nodes.firstIndex(of: endpoint) {
                state.slots[slot] = index
            } else {
                state.nodes.append(endpoint)
                state.slots[slot] = state.nodes.count - 1
            }
        }
    }

    private func refreshInBackground() {
        Task { try? await self.refresh() }
    }

    /// Reads `CLUSTER SLOTS` from a known node (the seeds when none answers) and replaces the map. Concurrent
    /// callers share one refresh.
    func refresh() async throws(RedisError) {
        let task = state.withLock { state -> Task<Void, any Error> in
            if let running = state.refreshing { return running }
            let task = Task { try await self.loadSlots() }
            state.refreshing = task
            return task
        }
        let result = await task.result
        state.withLock { state in
            if state.refreshing == task { state.refreshing = nil }
        }
        if case .failure(let error) = result { throw (error as? RedisError) ?? .connectionFailed("\(error)") }
    }

    private func loadSlots() async throws(RedisError) {
        let known = state.withLock { $0.nodes }
        var failures: [String] = []
        for endpoint in known + seeds.filter({ !known.contains($0) }) {
            let reply: [RedisReply]
            do { reply = try await send([["CLUSTER", "SLOTS"]], to: endpoint) } catch {
                failures.append("\(endpoint): \(error)")
                continue
            }
            guard let ranges = reply[0].array, !ranges.isEmpty else {
                failures.append("\(endpoint): CLUSTER SLOTS returned \(reply[0])")
                continue
            }
            var slots = [Int](repeating: -1, count: ClusterSlot.count)
            var nodes: [RedisConfiguration.Endpoint] = []
            for range in ranges {
                guard let parts = range.array, parts.count >= 3, let start = parts[0].int, let end = parts[1].int,
                    let primary = parts[2].array, primary.count >= 2, let port = primary[1].int
                else { continue }
                var host = primary[0].string ?? ""
                if host.isEmpty || host == "?", case .tcp(let asked, _) = endpoint { host = asked }  // "the address you used"
                let node = RedisConfiguration.Endpoint.tcp(host: host, port: Int(port))
                if !nodes.contains(node) { nodes.append(node) }
                let index = nodes.firstIndex(of: node)!
                for slot in Int(start)...Int(end) where slot < ClusterSlot.count { slots[slot] = index }
            }
            state.withLock { state in
                state.slots = slots
                state.nodes = nodes
            }
            return
        }
        throw .connectionFailed("no cluster node answered CLUSTER SLOTS (\(failures.joined(separator: "; ")))")
    }

    // MARK: - Replies

    private static func name(_ command: [RedisArgument]) -> String {
        String(decoding: command.first?.bytes ?? [], as: UTF8.self).uppercased()
    }

    /// `-MOVED 3999 127.0.0.1:6381` or `-ASK 3999 127.0.0.1:6381`.
    private static func redirect(_ reply: RedisReply) -> (ask: Bool, slot: Int, endpoint: RedisConfiguration.Endpoint)? {
        guard case .error(let message) = reply else { return nil }
        let parts = message.split(separator: " ")
        guard parts.count == 3, parts[0] == "MOVED" || parts[0] == "ASK", let slot = Int(parts[1]), (0..<ClusterSlot.count).contains(slot),
            let colon = parts[2].lastIndex(of: ":"), let port = Int(parts[2][parts[2].index(after: colon)...])
        else { return nil }
        var host = String(parts[2][..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (parts[0] == "ASK", slot, .tcp(host: host, port: port))
    }
}
