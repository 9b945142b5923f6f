import Foundation
import RedisClient
import WaitingRoomCore

extension RoomSettings {
    /// The settings as fields of the room hash. Absent optionals are written as -1 / 0 so a replace clears them.
    var redisFields: [(String, String)] {
        [
            ("rate", String(rate)),
            ("capacity", String(capacity ?? -1)),
            ("claimWindowSeconds", String(claimWindowSeconds)),
            ("sessionTTLSeconds", String(sessionTTLSeconds)),
            ("checkoutUrl", checkoutUrl),
            ("opensAtMs", String(opensAt.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) } ?? 0)),
            ("rampSeconds", String(rampSeconds ?? 0)),
            ("rampStartRate", String(rampStartRate ?? -1)),
        ]
    }

    init?(redisFields fields: [String: String]) {
        guard let rate = fields["rate"].flatMap(Double.init), let checkoutUrl = fields["checkoutUrl"] else { return nil }
        let capacity = fields["capacity"].flatMap(Int.init) ?? -1
        let opensAtMs = fields["opensAtMs"].flatMap(Int64.init) ?? 0
        let rampSeconds = fields["rampSeconds"].flatMap(Int.init) ?? 0
        let rampStartRate = fields["rampStartRate"].flatMap(Double.init) ?? -1
        self.init(
            rate: rate,
            capacity: capacity >= 0 ? capacity : nil,
            claimWindowSeconds: fields["claimWindowSeconds"].flatMap(Int.init) ?? 60,
            sessionTTLSeconds: fields["sessionTTLSeconds"].flatMap(Int.init) ?? 900,
            checkoutUrl: checkoutUrl,
            opensAt: opensAtMs > 0 ? Date(timeIntervalSince1970: Double(opensAtMs) / 1000) : nil,
            rampSeconds: rampSeconds > 0 ? rampSeconds : nil,
            rampStartRate: rampStartRate >= 0 ? rampStartRate : nil
        )
    }
}

extension RoomSnapshot {
    /// Builds a snapshot from the tick script's field/value reply.
    init?(name: String, fields: [String: String]) {
        guard let settings = RoomSettings(redisFields: fields), let state = fields["state"].flatMap(RoomState.init(rawValue:)),
            let epoch = fields["epoch"]
        else { return nil }
        func int(_ key: String) -> Int64 { fields[key].flatMap { Int64($0) ?? Double($0).map { Int64($0) } } ?? 0 }
        func double(_ key: String, _ fallback: Double) -> Double { fields[key].flatMap(Double.init) ?? fallback }
        let lotteryKey = fields["lotteryKey"].flatMap { $0.isEmpty ? nil : $0 }
        let oldest = int("oldestJoinMs")
        self.init(
            name: name, settings: settings, state: state, epoch: epoch, tail: int("tail"), head: int("head"),
            prequeue: int("prequeue"), lotteryKey: lotteryKey, openedAtMs: int("openedAtMs"), active: int("active"),
            offers: int("offersLive"), lapsed: int("lapsed"), claims: int("claims"), releases: int("releases"),
            showUpRatio: double("showUp", 1), offerRate: double("offerRate", 0),
            oldestWaitingJoinedAtMs: oldest > 0 ? oldest : nil, redisNowMs: int("now")
        )
    }
}
