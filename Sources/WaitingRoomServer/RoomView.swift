import Foundation
import WaitingRoomCore
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
        /// The rate the admission model runs at now: `rate`, ramped after opening and, with `autoTune`, the
        /// tuner's rate within `minRate...rate` (``RoomSettings/admissionRate``).
        public var effectiveRate: Double
        /// Ops' rate: the ceiling when auto-tuned.
        public var targetRate: Double?
        /// Offers per second the ticker aims at (the effective rate over the show-up ratio).
        public var offerRate: Double?
        /// Auto-tuning: why the effective rate is what it is, and what checkout last said (nil when off).
        public var tuning: Tuning?
        public var oldestWaitingSeconds: Double?
        /// Nothing is being admitted: rate 0, or capacity full with no slot coming free.
        public var onHold: Bool
        public var stale: Bool
    }

    /// The rate tuner's state (``RateController``), for ops: target vs effective and why.
    public struct Tuning: Codable, Sendable {
        /// healthy, degraded, no_signal or at_ceiling; nil until the first decision.
        public var reason: String?
        /// The tuner's rate (nil until the first decision: the target applies).
        public var tunedRate: Double?
        public var minRate: Double
        public var targetLatencyMs: Int
        public var maxErrorRatio: Double
        /// When the effective rate last moved (ISO 8601).
        public var changedAt: String?
        /// Checkout's last report and its age.
        public var p95Ms: Int?
        public var errorRatio: Double?
        public var healthAgeSeconds: Double?
    }

    /// The room's state and every setting of ``RoomSettings/schema`` under its public name, as shown:
    /// secrets masked (``RoomSetting/setMarker``). A view, not settings: it is read back as it is, never
    /// validated as settings to write (a masked secret would not pass), and a field it does not know is kept.
    public struct Settings: Codable, Sendable {
        public var state: String
        /// Each setting's value as the view shows it, by its public name.
        public var fields: [String: JSONValue]

        init(state: String, values: RoomSettings) {
            self.state = state
            self.fields = values.publicJSON
        }

        /// The field `name` (a setting's public name), `.null` when absent.
        public subscript(name: String) -> JSONValue { fields[name] ?? .null }

        public var rate: Double? { if case .number(let rate) = self["rate"] { rate } else { nil } }
        public var capacity: Int64? { if case .number(let capacity) = self["capacity"] { Int64(exactly: capacity) } else { nil } }

        public init(from decoder: any Decoder) throws {
            var object = try [String: JSONValue](from: decoder)
            guard case .string(let state)? = object.removeValue(forKey: "state") else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "state: required string"))
            }
            self.state = state
            fields = object
        }

        public func encode(to encoder: any Encoder) throws {
            var object = fields
            object["state"] = .string(state)
            try object.encode(to: encoder)
        }
    }

    /// The pre-queue lottery as anyone may check it (README "A draw anyone can check"): the commitment from
    /// the moment the room has an opening time, the key (and the beacon used) only once it has opened.
    public struct Lottery: Codable, Sendable, Equatable {
        /// Hex SHA-256 of the key's 32 hex characters.
        public var commitment: String?
        /// The key, revealed at opening; nil before.
        public var key: String?
        /// Where the beacon will come from, as named before opening (the room setting).
        public var beaconSource: String?
        /// The beacon mixed into the draw at opening; nil before opening or without one.
        public var beacon: String?
        /// The pre-queue's size (the permutation's size), once the room has opened.
        public var prequeue: Int64
        /// The drawn places of pre-queue numbers 1…10 (at most), as this gate computes them: for a checker to compare.
        public var firstPlaces: [Int64]

        init?(_ snapshot: RoomSnapshot) {
            guard snapshot.lotteryCommitment != nil || snapshot.lotteryKey != nil else { return nil }
            commitment = snapshot.lotteryCommitment
            key = snapshot.lotteryKey
            beaconSource = snapshot.settings.lotteryBeaconSource
            beacon = snapshot.lotteryBeacon
            prequeue = snapshot.lotteryKey == nil ? 0 : snapshot.prequeue
            firstPlaces = prequeue > 0 ? (1...min(10, prequeue)).map { snapshot.effectivePosition(ofSeq: $0) } : []
        }
    }

    public var room: String
    public var settings: Settings
    public var live: Live
    /// Absent for a room that never had an opening time.
    public var lottery: Lottery?
    /// The latest hook deliveries, newest first (`GET /admin/v1/rooms/{room}` only).
    public var hookDeliveries: [HookDeliveryView]?
    /// Settings a `PUT` or `PATCH` adjusted beyond what it asked (a rate below the ramp's start rate lowers
    /// `rampStartRate`); absent when nothing was.
    public var adjusted: [SettingsAdjustment]?

    public struct HookDeliveryView: Codable, Sendable {
        public var event: String
        public var type: String
        public var url: String
        public var attempt: Int
        public var status: Int?
        public var error: String?
        public var at: String
        public var gaveUp: Bool
    }

    init(name: String, entry: RoomCache.Entry) {
        let snapshot = entry.snapshot
        room = name
        settings = Settings(state: snapshot.state.rawValue, values: snapshot.settings)
        let onHold: Bool
        if case .waiting(_, _, let held, _) = ShopperStatus.decide(
            seq: snapshot.head + 1, jitterSeed: 0, snapshot: snapshot, slotsFreeingPerSecond: entry.slotsFreeingPerSecond, nowMs: snapshot.redisNowMs
        ) {
            onHold = held
        } else {
            onHold = false
        }
        live = Live(
            waiting: snapshot.waiting, tail: snapshot.tail, head: snapshot.head, active: snapshot.active, offers: snapshot.offers,
            lapsed: snapshot.lapsed, claims: snapshot.claims, releases: snapshot.releases, prequeue: snapshot.prequeue,
            joinsPerSecond: entry.joinRate ?? 0, admissionsPerSecond: entry.admissionRate ?? 0, claimsPerSecond: entry.claimRate ?? 0,
            claimRatio: snapshot.showUpRatio,
            effectiveRate: AdmissionModel.rate(snapshot.settings, openedAtMs: snapshot.openedAtMs, nowMs: snapshot.redisNowMs),
            targetRate: snapshot.settings.rate, offerRate: snapshot.offerRate, tuning: Self.tuning(snapshot),
            oldestWaitingSeconds: snapshot.oldestWaitingJoinedAtMs.map { max(0, Double(snapshot.redisNowMs - $0) / 1000) },
            onHold: onHold, stale: entry.isStale
        )
        lottery = Lottery(snapshot)
    }
}

extension RoomView {
    static func tuning(_ snapshot: RoomSnapshot) -> Tuning? {
        let settings = snapshot.settings
        guard settings.autoTune else { return nil }
        return Tuning(
            reason: snapshot.rateReason?.rawValue, tunedRate: settings.effectiveRate, minRate: settings.minRate,
            targetLatencyMs: settings.targetLatencyMs, maxErrorRatio: settings.maxErrorRatio,
            changedAt: snapshot.rateTunedAtMs.map { Date(timeIntervalSince1970: Double($0) / 1000).formatted(.iso8601) },
            p95Ms: snapshot.health?.p95Ms, errorRatio: snapshot.health?.errorRatio,
            healthAgeSeconds: snapshot.health.map { max(0, Double(snapshot.redisNowMs - $0.atMs) / 1000) }
        )
    }
}

/// `GET /admin/v1/rooms`.
public struct RoomList: Codable, Sendable {
    public var rooms: [RoomView]
    /// Every gate that wrote a heartbeat in the last ten minutes, and whether it is still alive; nil when
    /// this gate cannot read them (Redis unreachable).
    public var gates: [GateHealth]?
    /// Whether the gate answering reaches Redis: it read the heartbeats and none of its rooms is stale.
    public var redisReachable: Bool?
}
