import Foundation
import RedisClient

/// The Lua scripts that change room state, loaded from `Scripts/*.lua`. Each runs atomically in Redis and
/// takes its clock from Redis `TIME`, so any number of front-door instances can run them without
/// coordination. `tick`, `claim`, `release`, `setState` and `upsert` (on a rate change) transcribe ``AdmissionModel``.
enum RoomScripts {
    static let tick = script("tick")
    static let join = script("join")
    static let claim = script("claim")
    static let release = script("release")
    static let upsert = script("upsert")
    static let setState = script("setState")
    static let consume = script("consume")
    static let joinPass = script("joinPass")
    static let event = script("event")
    static let health = script("health")
    static let tune = script("tune")

    static let all = [tick, join, claim, release, upsert, setState, consume, joinPass, event, health, tune]

    private static func script(_ name: String) -> RedisScript {
        RedisScript(source("prelude") + "\n" + source(name))
    }

    private static func source(_ name: String) -> String {
        guard let url = Bundle.module.url(forResource: name, withExtension: "lua", subdirectory: "Scripts"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else {
            // A packaging mistake (the resource bundle was not shipped next to the binary), never a runtime condition.
            fatalError("WaitingRoomStore resource Scripts/\(name).lua is missing")
        }
        return text
    }
}
