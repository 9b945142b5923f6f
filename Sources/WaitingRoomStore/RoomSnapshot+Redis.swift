import RedisClient
import WaitingRoomCore
import WaitingRoomTokens

extension RoomSnapshot {
    /// Builds a snapshot from the tick script's field/value reply; nil when a field the room cannot do
    /// without (a required setting, the state, the epoch) is missing or unreadable.
    init?(name: String, fields: [String: String]) {
        guard let settings = RoomSettings(storedFields: fields), let state = fields["state"].flatMap(RoomState.init(rawValue:)),
            let epoch = fields["epoch"]
        else { return nil }
        func int(_ key: String) -> Int64 { fields[key].flatMap { Int64($0) ?? Double($0).map { Int64($0) } } ?? 0 }
        func double(_ key: String, _ fallback: Double) -> Double { fields[key].flatMap(Double.init) ?? fallback }
        let lotteryKey = fields["lotteryKey"].flatMap { $0.isEmpty ? nil : $0 }
        let oldest = int("oldestJoinMs")
        let commitment = fields["lotteryCommitment"].flatMap { $0.isEmpty ? nil : $0 }
        // The beacon as frozen at opening (the setting may change later; the draw does not).
        let beacon = lotteryKey == nil ? nil : fields["lotteryBeaconUsed"].flatMap { $0.isEmpty ? nil : $0 }
        self.init(
            name: name, settings: settings, state: state, epoch: epoch, tail: int("tail"), head: int("head"),
            prequeue: int("prequeue"), lotteryKey: lotteryKey, openedAtMs: int("openedAtMs"), active: int("active"),
            offers: int("offersLive"), lapsed: int("lapsed"), claims: int("claims"), releases: int("releases"),
            showUpRatio: double("showUp", 1), offerRate: double("offerRate", 0), entryTatMs: double("entryTatMs", 0),
            oldestWaitingJoinedAtMs: oldest > 0 ? oldest : nil, redisNowMs: int("now")
        )
        lotteryCommitment = commitment
        lotteryBeacon = beacon
        // Derived once per refresh, not per poll: a poll only runs the permutation.
        lotteryDrawKey = lotteryKey.map { LotterySeal.drawKey(key: $0, beacon: beacon) }
        rateReason = fields["rateReason"].flatMap(RateController.Reason.init(rawValue:))
        rateTunedAtMs = fields["rateTunedAtMs"].flatMap { Int64($0) }
        health = RoomStore.health(fields)
    }
}
