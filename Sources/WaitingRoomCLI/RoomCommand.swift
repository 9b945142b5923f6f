import ArgumentParser
import Foundation
import WaitingRoomCore
import WaitingRoomServer

/// `waitroom room …`: list, inspect, create, change and delete rooms through the ops API (`/admin/v1`).
struct RoomCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "room",
        abstract: "Manage rooms through the gate's ops API.",
        discussion: "Talks to $WAITROOM_ADMIN_URL (default http://127.0.0.1:8080) with the key in $WAITROOM_ADMIN_KEY; --url and --key override them. Exit codes: 0 ok, 1 API error or unreachable gate, 64 usage error (EX_USAGE, as ArgumentParser does).",
        subcommands: [
            ListRooms.self, ShowRoom.self, CreateRoom.self, SetRoom.self,
            PauseRoom.self, ResumeRoom.self, CloseRoom.self, OpenRoom.self, DeleteRoom.self,
        ]
    )
}

// MARK: - Shared arguments

/// The room a command acts on, checked before any request so a typo never reaches the URL path.
struct RoomArgument: ParsableArguments {
    @Argument(help: "Room name (1-64 of a-z, 0-9, - and _).")
    var name: String

    func validate() throws {
        guard RoomName.isValid(name) else {
            throw ValidationError("room name '\(name)': must be 1-64 of a-z, 0-9, - and _, starting with a letter or digit")
        }
    }

    var path: String { "/admin/v1/rooms/\(name)" }
}

/// `--json`: print the API's answer instead of the human-readable form.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print the API's JSON instead of the readable form.")
    var json = false
}

// MARK: - Commands

struct ListRooms: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List rooms with their state and live figures.")

    @OptionGroup var output: OutputOptions
    @OptionGroup var admin: AdminOptions

    func run() async throws {
        try await AdminError.reporting {
            let reply = try await admin.client().send(.GET, "/admin/v1/rooms")
            if output.json { return RoomOutput.printJSON(reply.body) }
            let rooms = try RoomOutput.decode(RoomList.self, reply.body).rooms
            print(RoomOutput.table(rooms.sorted { $0.room < $1.room }), terminator: "")
        }
    }
}

struct ShowRoom: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one room's settings and live figures.")

    @OptionGroup var room: RoomArgument
    @OptionGroup var output: OutputOptions
    @OptionGroup var admin: AdminOptions

    func run() async throws {
        try await AdminError.reporting {
            RoomOutput.printRoom(try await admin.client().send(.GET, room.path), json: output.json)
        }
    }
}

struct CreateRoom: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a room, or replace all settings of an existing one (its queue is kept).",
        discussion: "Settings not given take the gate's defaults, also when replacing; use 'room set' to change single fields."
    )

    @OptionGroup var room: RoomArgument

    // `.unconditional` so `--rate -1` reaches the API (which names the bad field) instead of being taken for a flag.
    @Option(parsing: .unconditional, help: "Admissions per second.")
    var rate: Double

    @Option(help: "Where admitted visitors go: an http(s) URL or an absolute path.")
    var checkoutUrl: String

    @Option(parsing: .unconditional, help: "Most sessions active at once (default: no limit).")
    var capacity: Int?

    @Option(parsing: .unconditional, help: "Seconds an admitted visitor has to claim the offer.")
    var claimWindow: Int?

    @Option(parsing: .unconditional, help: "Seconds a checkout session lasts.")
    var sessionTtl: Int?

    @Option(help: "When the room opens (ISO 8601, e.g. 2025-11-28T09:00:00Z); visitors queue before then.")
    var opensAt: String?

    @Option(parsing: .unconditional, help: "Seconds over which the rate ramps up after opening.")
    var rampSeconds: Int?

    @Option(parsing: .unconditional, help: "Admissions per second at the start of the ramp.")
    var rampStartRate: Double?

    @OptionGroup var output: OutputOptions
    @OptionGroup var admin: AdminOptions

    func validate() throws {
        if let opensAt { try RoomOutput.checkDate(opensAt) }
    }

    func run() async throws {
        var body: [String: JSONValue] = ["rate": .number(rate), "checkoutUrl": .string(checkoutUrl)]
        body["capacity"] = capacity.map(JSONValue.integer)
        body["claimWindowSeconds"] = claimWindow.map(JSONValue.integer)
        body["sessionTTLSeconds"] = sessionTtl.map(JSONValue.integer)
        body["opensAt"] = opensAt.map(JSONValue.string)
        body["rampSeconds"] = rampSeconds.map(JSONValue.integer)
        body["rampStartRate"] = rampStartRate.map(JSONValue.number)
        try await AdminError.reporting {
            let reply = try await admin.client().send(.PUT, room.path, body: try JSONValue.encode(body))
            RoomOutput.printRoom(reply, json: output.json)
        }
    }
}

struct SetRoom: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "set", abstract: "Change some settings of a room, live.")

    @OptionGroup var room: RoomArgument

    @Option(parsing: .unconditional, help: "Admissions per second.")
    var rate: Double?

    @Option(parsing: .unconditional, help: "Most sessions active at once.")
    var capacity: Int?

    @Flag(help: "Remove the capacity limit.")
    var noCapacity = false

    @Option(parsing: .unconditional, help: "Seconds an admitted visitor has to claim the offer.")
    var claimWindow: Int?

    @Option(parsing: .unconditional, help: "Seconds a checkout session lasts.")
    var sessionTtl: Int?

    @Option(help: "Where admitted visitors go: an http(s) URL or an absolute path.")
    var checkoutUrl: String?

    @Option(help: "When the room opens (ISO 8601).")
    var opensAt: String?

    @Flag(help: "Clear the opening time.")
    var noOpensAt = false

    @Option(parsing: .unconditional, help: "Seconds over which the rate ramps up after opening.")
    var rampSeconds: Int?

    @Option(parsing: .unconditional, help: "Admissions per second at the start of the ramp.")
    var rampStartRate: Double?

    @OptionGroup var output: OutputOptions
    @OptionGroup var admin: AdminOptions

    func validate() throws {
        if capacity != nil && noCapacity { throw ValidationError("pass --capacity or --no-capacity, not both") }
        if opensAt != nil && noOpensAt { throw ValidationError("pass --opens-at or --no-opens-at, not both") }
        if let opensAt { try RoomOutput.checkDate(opensAt) }
        if changes.isEmpty { throw ValidationError("nothing to change: give at least one setting, e.g. --rate 50") }
    }

    /// Exactly the fields given: PATCH leaves everything else as it is.
    var changes: [String: JSONValue] {
        var body: [String: JSONValue] = [:]
        body["rate"] = rate.map(JSONValue.number)
        body["capacity"] = noCapacity ? JSONValue.null : capacity.map(JSONValue.integer)
        body["claimWindowSeconds"] = claimWindow.map(JSONValue.integer)
        body["sessionTTLSeconds"] = sessionTtl.map(JSONValue.integer)
        body["checkoutUrl"] = checkoutUrl.map(JSONValue.string)
        body["opensAt"] = noOpensAt ? JSONValue.null : opensAt.map(JSONValue.string)
        body["rampSeconds"] = rampSeconds.map(JSONValue.integer)
        body["rampStartRate"] = rampStartRate.map(JSONValue.number)
        return body
    }

    func run() async throws {
        try await AdminError.reporting {
            let reply = try await admin.client().send(.PATCH, room.path, body: try JSONValue.encode(changes))
            RoomOutput.printRoom(reply, json: output.json)
        }
    }
}

/// pause, resume, close and open differ only in the action; each prints `NAME: <new state>`.
enum StateChange {
    static func run(_ action: String, room: RoomArgument, output: OutputOptions, admin: AdminOptions) async throws {
        try await AdminError.reporting {
            let reply = try await admin.client().send(.POST, room.path + "/" + action)
            if output.json { return RoomOutput.printJSON(reply.body) }
            let view = try RoomOutput.decode(RoomView.self, reply.body)
            print("\(view.room): \(view.settings.state)")
        }
    }
}

struct PauseRoom: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Stop admitting; everyone waiting keeps their place.")
    @OptionGroup var room: RoomArgument
    @OptionGroup var output: OutputOptions
    @OptionGroup var admin: AdminOptions
    func run() async throws { try await StateChange.run("pause", room: room, output: output, admin: admin) }
}

struct ResumeRoom: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Admit again after a pause.")
    @OptionGroup var room: RoomArgument
    @OptionGroup var output: OutputOptions
    @OptionGroup var admin: AdminOptions
    func run() async throws { try await StateChange.run("resume", room: room, output: output, admin: admin) }
}

struct CloseRoom: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "close", abstract: "Close the room (sold out): joins are refused and those waiting are told so.")
    @OptionGroup var room: RoomArgument
    @OptionGroup var output: OutputOptions
    @OptionGroup var admin: AdminOptions
    func run() async throws { try await StateChange.run("close", room: room, output: output, admin: admin) }
}

struct OpenRoom: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "open", abstract: "Reopen a closed room.")
    @OptionGroup var room: RoomArgument
    @OptionGroup var output: OutputOptions
    @OptionGroup var admin: AdminOptions
    func run() async throws { try await StateChange.run("open", room: room, output: output, admin: admin) }
}

struct DeleteRoom: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Remove a room and its whole queue.")

    @OptionGroup var room: RoomArgument

    @Flag(help: "Confirm the deletion (everyone waiting loses their place).")
    var yes = false

    @OptionGroup var admin: AdminOptions

    func validate() throws {
        guard yes else { throw ValidationError("refusing to delete room '\(room.name)' and its queue without --yes") }
    }

    func run() async throws {
        try await AdminError.reporting {
            _ = try await admin.client().send(.DELETE, room.path)
            print("deleted \(room.name)")
        }
    }
}

/// A JSON request value; `null` is how PATCH clears a setting, which `Encodable` optionals cannot express.
enum JSONValue: Encodable {
    case number(Double)
    case integer(Int)
    case string(String)
    case null

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .number(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .null: try container.encodeNil()
        }
    }

    static func encode(_ object: [String: JSONValue]) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(object)
    }
}

// MARK: - Output

/// Rendering of rooms for people (table, key: value lines) and for scripts (the API's JSON).
enum RoomOutput {
    static func decode<T: Decodable>(_ type: T.Type, _ data: Data) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            throw AdminError("unexpected answer from the admin API: \(error)")
        }
    }

    /// Pretty-prints the API's JSON; if it is somehow not JSON, prints it untouched rather than failing.
    static func printJSON(_ data: Data) {
        guard let object = try? JSONSerialization.jsonObject(with: data),
            let pretty = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else {
            return print(String(decoding: data, as: UTF8.self))
        }
        print(String(decoding: pretty, as: UTF8.self))
    }

    static func printRoom(_ reply: AdminClient.Reply, json: Bool) {
        if json { return printJSON(reply.body) }
        guard let view = try? JSONDecoder().decode(RoomView.self, from: reply.body) else { return printJSON(reply.body) }
        print(details(view), terminator: "")
    }

    static func checkDate(_ text: String) throws {
        guard (try? Date(text, strategy: .iso8601)) != nil else {
            throw ValidationError("--opens-at '\(text)': must be an ISO 8601 date such as 2025-11-28T09:00:00Z")
        }
    }

    /// `key: value` lines; keys follow the `room set` flag names so what you read is what you type.
    static func details(_ view: RoomView) -> String {
        let s = view.settings
        let live = view.live
        let lines: [(String, String)] = [
            ("room", view.room),
            ("state", s.state),
            ("rate", number(s.rate)),
            ("capacity", s.capacity.map(String.init) ?? "-"),
            ("claim-window", "\(s.claimWindowSeconds)"),
            ("session-ttl", "\(s.sessionTTLSeconds)"),
            ("checkout-url", s.checkoutUrl),
            ("opens-at", s.opensAt ?? "-"),
            ("ramp-seconds", s.rampSeconds.map(String.init) ?? "-"),
            ("ramp-start-rate", s.rampStartRate.map(number) ?? "-"),
            ("effective-rate", number(live.effectiveRate)),
            ("waiting", "\(live.waiting)"),
            ("head", "\(live.head)"),
            ("tail", "\(live.tail)"),
            ("active", "\(live.active)"),
            ("offers", "\(live.offers)"),
            ("lapsed", "\(live.lapsed)"),
            ("claims", "\(live.claims)"),
            ("releases", "\(live.releases)"),
            ("prequeue", "\(live.prequeue)"),
            ("joins/s", number(live.joinsPerSecond)),
            ("admissions/s", number(live.admissionsPerSecond)),
            ("claims/s", number(live.claimsPerSecond)),
            ("claim-ratio", number(live.claimRatio)),
            ("oldest-waiting-s", live.oldestWaitingSeconds.map(number) ?? "-"),
            ("stale", live.stale ? "yes" : "no"),
        ]
        let width = lines.map(\.0.count).max() ?? 0
        return lines.map { key, value in (key + ":").padding(toLength: width + 2, withPad: " ", startingAt: 0) + value + "\n" }.joined()
    }

    /// The `room list` table: names and states left-aligned, figures right-aligned.
    static func table(_ rooms: [RoomView]) -> String {
        let header = ["ROOM", "STATE", "RATE", "CAPACITY", "WAITING", "HEAD", "TAIL", "ACTIVE", "OFFERS", "ADM/S"]
        let rows = rooms.map { view -> [String] in
            [
                view.room, view.settings.state, number(view.settings.rate), view.settings.capacity.map(String.init) ?? "-",
                "\(view.live.waiting)", "\(view.live.head)", "\(view.live.tail)", "\(view.live.active)", "\(view.live.offers)",
                String(format: "%.1f", view.live.admissionsPerSecond),
            ]
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return column < 2 ? cell + pad : pad + cell
            }.joined(separator: "  ").trimmingCharacters(in: .whitespaces) + "\n"
        }
        return ([header] + rows).map(line).joined()
    }

    /// Whole numbers without ".0", others with up to three decimals: rates are usually whole.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "\(value)" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        var text = String(format: "%.3f", value)
        while text.hasSuffix("0") { text.removeLast() }
        return text
    }
}
