import Foundation
import Logging
import ServiceLifecycle
import WaitingRoomStore

/// Writes this gate's heartbeat once a second (`wr:gates`), and forgets gates silent for ten minutes, so
/// the room list (and the dashboard) can show which gates are alive.
struct GateHeartbeat: Service {
    let store: RoomStore
    let cache: RoomCache
    let gate: String
    let startedAt = Date()
    var interval: Duration = .seconds(1)

    /// A gate silent this long is unhealthy; after `forgetAfterSeconds` it is dropped from the list.
    static let healthySeconds = 5.0
    static let forgetAfterSeconds = 600.0

    func run() async throws {
        var beats = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let names = cache.roomNames
            let beat = GateHealth(
                id: gate, startedAt: startedAt.timeIntervalSince1970, at: Date().timeIntervalSince1970, rooms: names.count,
                staleRooms: names.filter { cache.entry($0)?.isStale ?? false }.count, ageSeconds: nil, healthy: nil
            )
            try? await store.writeHeartbeat(gate: gate, json: beat.json)
            beats += 1
            if beats % 60 == 0, let all = try? await store.heartbeats() {
                let now = Date().timeIntervalSince1970
                let silent = all.compactMap { id, json in GateHealth.decode(json).flatMap { now - $0.at > Self.forgetAfterSeconds ? id : nil } }
                try? await store.forgetGates(silent)
            }
            try? await Task.sleep(for: interval)
        }
    }
}

/// One gate as the room list shows it: when it last wrote its heartbeat and whether that is recent.
public struct GateHealth: Codable, Sendable, Equatable {
    public var id: String
    /// Unix seconds.
    public var startedAt: Double
    public var at: Double
    /// Rooms in its cache.
    public var rooms: Int
    /// Of those, the ones it could not refresh from Redis lately (a Cluster node out of its reach, say).
    public var staleRooms: Int?
    public var ageSeconds: Double?
    public var healthy: Bool?

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    static func decode(_ json: String) -> GateHealth? {
        try? JSONDecoder().decode(GateHealth.self, from: Data(json.utf8))
    }

    /// Every known gate with its age now, healthiest (most recent) first.
    static func list(_ heartbeats: [String: String], now: Double = Date().timeIntervalSince1970) -> [GateHealth] {
        heartbeats.values.compactMap(decode).map { gate in
            var gate = gate
            gate.ageSeconds = max(0, (now - gate.at) * 10).rounded() / 10
            gate.healthy = now - gate.at <= GateHeartbeat.healthySeconds
            return gate
        }.sorted { $0.at > $1.at }
    }
}
