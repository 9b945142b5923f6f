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
            PauseRoom.self, ResumeRoom.self, CloseRoom.self, OpenRoom.self, DeleteRoom.self, ReportRoom.self, LotteryRoom.self,
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
        discussion: "Settings not given take the gate's defaults, also when replacing; use 'room set' to change single fields.\n\n" + SettingFlags.discussion
    )

    @OptionGroup var room: RoomArgument
    @OptionGroup var output: OutputOptions
    @OptionGroup var admin: AdminOptions
    @OptionGroup var flags: SettingFlags

    func validate() throws {
        let changes = try flags.changes()
        for setting in RoomSettings.schema where setting.required && changes[setting.name] == nil {
            throw ValidationError("missing --\(setting.flag)")
        }
    }

    func run() async throws {
        let body = try flags.changes()
        try await AdminError.reporting {
            let reply = try await admin.client().send(.PUT, room.path, body: try SettingFlags.encode(body))
            RoomOutput.printRoom(reply, json: output.json)
        }
    }
}

struct SetRoom: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set", abstract: "Change some settings of a room, live.", discussion: SettingFlags.discussion
    )

    @OptionGroup var room: RoomArgument
    @OptionGroup var output: OutputOptions
    @OptionGroup var admin: AdminOptions
    @OptionGroup var flags: SettingFlags

    func validate() throws {
        if try flags.changes().isEmpty { throw ValidationError("nothing to change: give at least one setting, e.g. --rate 50") }
    }

    func run() async throws {
        let changes = try flags.changes()
        try await AdminError.reporting {
            let reply = try await admin.client().send(.PATCH, room.path, body: try SettingFlags.encode(changes))
            RoomOutput.printRoom(reply, json: output.json)
        }
    }
}

/// Room settings as flags, one per setting of ``RoomSettings/schema``: `--rate 25`, `--claim-window 30`,
/// `--no-capacity` (null, for settings where null means something). Values are checked for their type
/// here; bounds are the API's to check (its error names the field).
struct SettingFlags: ParsableArguments {
    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("Settings, e.g. --rate 25 --checkout-url https://shop.example/checkout.", valueName: "settings"))
    var raw: [String] = []

    static var discussion: String {
        "Settings:\n" + RoomSettings.schema.map { setting in
            let clear = setting.nullable ? " (--no-\(setting.flag) clears it)" : ""
            return "  --\(setting.flag) <\(setting.kind.rawValue)>  \(setting.doc)\(clear)"
        }.joined(separator: "\n")
    }

    /// The settings given, as the JSON the admin API takes.
    func changes(now: Date = Date()) throws -> [String: JSONValue] {
        var changes: [String: JSONValue] = [:]
        var index = 0
        while index < raw.count {
            let argument = raw[index]
            index += 1
            guard argument.hasPrefix("--") else { throw ValidationError("unexpected argument '\(argument)'") }
            var flag = String(argument.dropFirst(2))
            var inline: String?
            if let equals = flag.firstIndex(of: "=") {
                inline = String(flag[flag.index(after: equals)...])
                flag = String(flag[..<equals])
            }
            let value: JSONValue
            let setting: RoomSetting
            if flag.hasPrefix("no-"), let cleared = RoomSettings.schema.first(where: { $0.nullable && "no-" + $0.flag == flag }) {
                setting = cleared
                value = .null
            } else {
                guard let named = RoomSettings.schema.first(where: { $0.flag == flag }) else { throw ValidationError("unknown option '--\(flag)'") }
                guard let text = inline ?? (index < raw.count ? raw[index] : nil) else { throw ValidationError("missing value for '--\(flag)'") }
                if inline == nil { index += 1 }
                do {
                    value = named.json(try named.value(fromArgument: text, now: now))
                } catch {
                    throw ValidationError("--\(flag) '\(text)': \(error.reason)")
                }
                setting = named
            }
            guard changes[setting.name] == nil else { throw ValidationError("pass --\(setting.flag) or --no-\(setting.flag) once, not both") }
            changes[setting.name] = value
        }
        return changes
    }

    static func encode(_ object: [String: JSONValue]) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(object)
    }
}

/// pause, resume, close and open differ only in the action; each prints `NAME: <new state>`.
enum StateChange {
    static func run(_ action: String, room: RoomArgument, output: OutputOptions, admin: AdminOptions) async throws {
        try await AdminError.reporting {
            let reply = try await admin.client().send(.POST, room.path + "/" + action)
            if output.json { return RoomOutput.printJSON(reply.body) }
            // The change happened (2xx): an answer this CLI cannot read is printed as it came, not an error.
            guard let view = try? JSONDecoder().decode(RoomView.self, from: reply.body) else { return RoomOutput.printJSON(reply.body) }
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

    /// `key: value` lines; keys follow the `room set` flag names so what you read is what you type.
    static func details(_ view: RoomView) -> String {
        let s = view.settings
        let live = view.live
        var lines: [(String, String)] = [("room", view.room), ("state", s.state)]
        for setting in RoomSettings.schema {
            lines.append((setting.flag, text(s[setting.name])))
        }
        lines += [
            ("effective-rate", number(live.effectiveRate)),
            ("target-rate", live.targetRate.map(number) ?? "-"),
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
            ("show-up-estimate", number(live.claimRatio)),  // the model's, not a count (claims and lapsed are)
            ("oldest-waiting-s", live.oldestWaitingSeconds.map(number) ?? "-"),
            ("on-hold", live.onHold ? "yes" : "no"),
            ("stale", live.stale ? "yes" : "no"),
        ]
        if let lottery = view.lottery {
            lines.append(("lottery-commitment", lottery.commitment ?? "-"))
            lines.append(("lottery-key", lottery.key ?? "sealed until opening"))
        }
        // Auto-tuning: target vs effective, and why (healthy / degraded / no_signal / at_ceiling).
        if let tuning = live.tuning {
            lines.insert(("rate-reason", tuning.reason ?? "(no decision yet)"), at: lines.firstIndex { $0.0 == "target-rate" }.map { $0 + 1 } ?? lines.count)
            if let p95 = tuning.p95Ms, let errors = tuning.errorRatio {
                lines.append(("checkout-health", "p95 \(p95) ms, errors \(number(errors * 100))% (\(tuning.healthAgeSeconds.map(number) ?? "?") s ago)"))
            } else {
                lines.append(("checkout-health", "no report"))
            }
            if let changed = tuning.changedAt { lines.append(("rate-tuned-at", changed)) }
        }
        let width = lines.map(\.0.count).max() ?? 0
        var text = lines.map { key, value in (key + ":").padding(toLength: width + 2, withPad: " ", startingAt: 0) + value + "\n" }.joined()
        // What the change adjusted beyond what was asked (a rate below the ramp's start rate lowers it).
        for a in view.adjusted ?? [] {
            text += "adjusted: \(a.field) \(a.from.map(number) ?? "-") -> \(a.to.map(number) ?? "-") (\(a.reason))\n"
        }
        if let deliveries = view.hookDeliveries, !deliveries.isEmpty {
            text += "hook deliveries (newest first):\n"
            for d in deliveries {
                let outcome = d.status.map { "HTTP \($0)" } ?? (d.error ?? "failed")
                text += "  \(d.at)  \(d.type)  \(d.url)  attempt \(d.attempt)  \(outcome)\(d.gaveUp ? "  GAVE UP" : "")\n"
            }
        }
        return text
    }

    /// The `room list` table: names and states left-aligned, figures right-aligned.
    static func table(_ rooms: [RoomView]) -> String {
        let header = ["ROOM", "STATE", "RATE", "CAPACITY", "WAITING", "HEAD", "TAIL", "ACTIVE", "OFFERS", "ADM/S"]
        let rows = rooms.map { view -> [String] in
            [
                view.room, view.settings.state, view.settings.rate.map(number) ?? "-", view.settings.capacity.map(String.init) ?? "-",
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

    /// A setting's value on one line: `-` for unset, numbers as ``number(_:)``, lists and objects as compact JSON.
    static func text(_ value: JSONValue) -> String {
        switch value {
        case .null: return "-"
        case .number(let n): return number(n)
        case .string(let text): return text.isEmpty ? "-" : text
        case .bool(let flag): return String(flag)
        case .array(let items) where items.isEmpty: return "-"
        case .array, .object:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
        }
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
