import Foundation
import Testing
import WaitingRoomCore

@Suite("Room settings: one schema for the API, the rooms file, Redis and the CLI")
struct SettingsSchemaTests {
    private func decode(_ json: String) throws -> [String: JSONValue] {
        try JSONDecoder().decode([String: JSONValue].self, from: Data(json.utf8))
    }

    @Test("a boolean is not a number, a fraction is not an integer, unknown fields are refused", arguments: [
        (#"{"rate": true, "checkoutUrl": "/c"}"#, "rate"),
        (#"{"rate": "5", "checkoutUrl": "/c"}"#, "rate"),
        (#"{"rate": 5, "checkoutUrl": "/c", "capacity": 2.5}"#, "capacity"),
        (#"{"rate": 5, "checkoutUrl": "/c", "capacity": false}"#, "capacity"),
        (#"{"rate": 5, "checkoutUrl": "/c", "claimWindowSeconds": null}"#, "claimWindowSeconds"),
        (#"{"rate": 5, "checkoutUrl": 7}"#, "checkoutUrl"),
        (#"{"rate": 5, "checkoutUrl": "/c", "opensAt": "tomorrow"}"#, "opensAt"),
        (#"{"rate": 5, "checkoutUrl": "/c", "colour": "red"}"#, "colour"),
        (#"{"checkoutUrl": "/c"}"#, "rate"),
        (#"{"rate": 5}"#, "checkoutUrl"),
    ])
    func strictDecoding(json: String, field: String) throws {
        #expect { try RoomSettings(json: try decode(json)) } throws: { ($0 as? SettingsError)?.field == field }
    }

    @Test("defaults come from one place; absent fields take them")
    func defaults() throws {
        let settings = try RoomSettings(json: try decode(#"{"rate": 5, "checkoutUrl": "/c"}"#))
        #expect(settings.claimWindowSeconds == RoomSettings().claimWindowSeconds)
        #expect(settings.sessionTTLSeconds == RoomSettings().sessionTTLSeconds)
        #expect(settings.capacity == nil)
    }

    @Test("JSON, Redis fields and CLI arguments round-trip every setting")
    func roundTrips() throws {
        var settings = RoomSettings(rate: 12.5, capacity: 40, claimWindowSeconds: 30, sessionTTLSeconds: 600, checkoutUrl: "https://shop.example/c")
        settings.opensAtMs = 1_800_000_000_000
        settings.rampSeconds = 60
        settings.rampStartRate = 2
        #expect(try RoomSettings(json: settings.json) == settings)
        #expect(RoomSettings(storedFields: Dictionary(uniqueKeysWithValues: settings.storedFields)) == settings)
        var fromArguments = RoomSettings()
        for setting in RoomSettings.schema {
            let text: String
            switch setting.json(settings) {
            case .number(let n): text = String(n)
            case .string(let s): text = s
            default: continue
            }
            setting.apply(try setting.value(fromArgument: text), to: &fromArguments)
        }
        #expect(fromArguments == settings)
        // Cleared optional settings survive Redis as cleared, not as zero.
        let plain = RoomSettings(rate: 1, checkoutUrl: "/c")
        #expect(RoomSettings(storedFields: Dictionary(uniqueKeysWithValues: plain.storedFields)) == plain)
    }

    @Test("PATCH merges: null clears a nullable setting, the rest is kept")
    func merging() throws {
        let base = RoomSettings(rate: 5, capacity: 10, checkoutUrl: "/c")
        let merged = try base.merging(json: try decode(#"{"capacity": null, "rate": 7}"#))
        #expect(merged.capacity == nil && merged.rate == 7 && merged.checkoutUrl == "/c")
    }

    @Test("relative opening times: +N seconds from now")
    func relativeDates() throws {
        let now = Date(timeIntervalSince1970: 1_000)
        let settings = try RoomSettings(json: try decode(#"{"rate": 5, "checkoutUrl": "/c", "opensAt": "+120"}"#), now: now)
        #expect(settings.opensAtMs == 1_120_000)
    }

    @Test("settings validation names the field", arguments: [
        (RoomSettings(rate: -1, checkoutUrl: "https://s/c"), "rate"),
        (RoomSettings(rate: .nan, checkoutUrl: "https://s/c"), "rate"),
        (RoomSettings(rate: 1, capacity: -2, checkoutUrl: "https://s/c"), "capacity"),
        (RoomSettings(rate: 1, claimWindowSeconds: 0, checkoutUrl: "https://s/c"), "claimWindowSeconds"),
        (RoomSettings(rate: 1, sessionTTLSeconds: 0, checkoutUrl: "https://s/c"), "sessionTTLSeconds"),
        (RoomSettings(rate: 1, checkoutUrl: "javascript:alert(1)"), "checkoutUrl"),
        (RoomSettings(rate: 1, checkoutUrl: "//evil.example/x"), "checkoutUrl"),
        (RoomSettings(rate: 1, checkoutUrl: "https://"), "checkoutUrl"),
        (RoomSettings(rate: 1, checkoutUrl: "https://s/c", rampSeconds: -1), "rampSeconds"),
        (RoomSettings(rate: 1, checkoutUrl: "https://s/c", rampSeconds: 10, rampStartRate: 5), "rampStartRate"),
    ])
    func invalidSettings(settings: RoomSettings, field: String) {
        #expect { try settings.validate() } throws: { ($0 as? SettingsError)?.field == field }
    }

    @Test("every setting has a unique name and flag, and a doc line")
    func schemaShape() {
        #expect(Set(RoomSettings.schema.map(\.name)).count == RoomSettings.schema.count)
        #expect(Set(RoomSettings.schema.map(\.flag)).count == RoomSettings.schema.count)
        #expect(RoomSettings.schema.allSatisfy { !$0.doc.isEmpty })
    }
}

@Suite("Ticket rules")
struct TicketRulesTests {
    let rules = TicketRules()
    let ticket = QueueTicket(room: "drop", epoch: "e1", seq: 5, issuedAtMs: 1_000_000, id: "abc")

    @Test("good for its room and epoch within the maximum age")
    func valid() {
        #expect(rules.problem(with: ticket, room: "drop", epoch: "e1", nowMs: 1_000_000 + rules.maximumAgeMs) == nil)
    }

    @Test("foreign: another room or an earlier incarnation", arguments: [("other", "e1"), ("drop", "e2")])
    func foreign(room: String, epoch: String) {
        #expect(rules.problem(with: ticket, room: room, epoch: epoch, nowMs: 1_000_000) == .foreign)
    }

    @Test("expired: too old, or issued too far in the future; extreme clocks never trap", arguments: [
        Int64(86_401_000_001), Int64(939_999), Int64.min, Int64.max,
    ] as [Int64])
    func expired(nowMs: Int64) {
        #expect(rules.problem(with: ticket, room: "drop", epoch: "e1", nowMs: nowMs) == .expired)
    }

    @Test("places outside 1...2^53 and negative issue times do not parse", arguments: [
        "v1.drop.e1.0.1.x", "v1.drop.e1.-3.1.x", "v1.drop.e1.9007199254740993.1.x", "v1.drop.e1.9223372036854775807.1.x", "v1.drop.e1.5.-1.x",
    ])
    func boundedPlaces(payload: String) {
        #expect(QueueTicket(payload: payload) == nil)
    }

    @Test("the largest place still gives a position, an ETA and a poll interval")
    func largestPlace() throws {
        let snapshot = RoomSnapshot(name: "drop", settings: RoomSettings(rate: 0.001, checkoutUrl: "/c"), state: .open, epoch: "e1", tail: 1 << 53, head: 0)
        let decision = ShopperStatus.decide(seq: 1 << 53, jitterSeed: 3, snapshot: snapshot, nowMs: 0)
        guard case .waiting(let position, let eta?, false, let poll) = decision else { Issue.record("\(decision)"); return }
        #expect(position == (1 << 53) - 1)
        #expect(eta.high >= eta.low && poll > 0)
    }
}

@Suite("Settings found by fuzzing")
struct SettingsFuzzRegressions {
    @Test("an absurd relative opening time is refused, never trapped on", arguments: ["+15555555555555555555555555555555555555555555555555555555555555555555555555555555520", "+1e300", "+inf"])
    func absurdRelativeOpening(text: String) throws {
        #expect { try RoomSettings(json: ["rate": .number(5), "checkoutUrl": .string("/c"), "opensAt": .string(text)]) } throws: {
            ($0 as? SettingsError)?.field == "opensAt"
        }
    }

    @Test("an opening time before 2000 is refused (it would not survive Redis: 0 and below mean unset)")
    func ancientOpening() throws {
        let object = try JSONDecoder().decode([String: JSONValue].self, from: Data(#"{"rate": 5, "checkoutUrl": "/c", "opensAt": "1013-12-01T15:00:10Z"}"#.utf8))
        let settings = try RoomSettings(json: object)
        #expect { try settings.validate() } throws: { ($0 as? SettingsError)?.field == "opensAt" }
    }
}
