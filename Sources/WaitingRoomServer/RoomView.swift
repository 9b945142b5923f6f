import Foundation
import WaitingRoomStore

/// A room as the admin API shows it: settings plus live figures. Shared with the CLI, which decodes it.
public struct RoomView: Codable, Sendable {
    public struct Live: Codable, Sendable {
        public var waiting: Int64
        public var tail: Int64
        public var head: Int64
        public var active: Int64
        public var offers: Int64
        public var lapsed: Int64
        public var claims: Int64
        public var releases: Int64
        public var prequeue: Int64
        public var joinsPerSecond: Double
        public var admissionsPerSecond: Double
        public var claimsPerSecond: Double
        public var claimRatio: Double
        public var effectiveRate: Double
        public var oldestWaitingSeconds: Double?
        public var stale: Bool
    }

    public struct Settings: Codable, Sendable {
        public var state: String
        public var rate: Double
        public var capacity: Int?
        public var claimWindowSeconds: Int
        public var sessionTTLSeconds: Int
        public var checkoutUrl: String
        /// ISO 8601.
        public var opensAt: String?
        public var rampSeconds: Int?
        public var rampStartRate: Double?
    }

    public var room: String
    public var settings: Settings
    public var live: Live

    init(name: String, entry: RoomCache.Entry) {
        let snapshot = entry.snapshot
        room = name
        let s = snapshot.settings
        settings = Settings(
            state: snapshot.state.rawValue, rate: s.rate, capacity: s.capacity, claimWindowSeconds: s.claimWindowSeconds,
            sessionTTLSeconds: s.sessionTTLSeconds, checkoutUrl: s.checkoutUrl, opensAt: s.opensAt?.formatted(.iso8601), rampSeconds: s.rampSeconds,
            rampStartRate: s.rampStartRate
        )
        live = Live(
            waiting: snapshot.waiting, tail: snapshot.tail, head: snapshot.head, active: snapshot.active, offers: snapshot.offers,
            lapsed: snapshot.lapsed, claims: snapshot.claims, releases: snapshot.releases, prequeue: snapshot.prequeue,
            joinsPerSecond: entry.joinRate ?? 0, admissionsPerSecond: entry.admissionRate ?? 0, claimsPerSecond: entry.claimRate ?? 0,
            claimRatio: snapshot.showUpRatio, effectiveRate: snapshot.offerRate,
            oldestWaitingSeconds: snapshot.oldestWaitingJoinedAtMs.map { max(0, Double(snapshot.redisNowMs - $0) / 1000) },
            stale: entry.isStale
        )
    }
}

/// `GET /admin/v1/rooms`.
public struct RoomList: Codable, Sendable {
    public var rooms: [RoomView]
}
