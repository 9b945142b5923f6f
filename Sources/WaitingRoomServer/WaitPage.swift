import Foundation
import WaitingRoomCore

/// The shopper's waiting page: one template (`Resources/wait.html`), one string table
/// (`Resources/strings.json`, every language with every key), the room's presentation settings, and what
/// the shopper's state is. The page's script takes over where JavaScript runs; without it, the server's
/// own rendering below is the page (it refreshes itself).
struct WaitPage: Sendable {
    struct ConfigurationError: Error, CustomStringConvertible {
        let description: String
    }

    /// language → key → text.
    let strings: [String: [String: String]]
    let template: PageTemplate

    /// The names the renderer fills (besides `t.<key>`, a string of the served language).
    static let placeholders: Set<String> = [
        "lang", "title", "accent", "accentText", "state_name", "logo", "heading", "message", "room", "refresh", "data",
        "clock", "opens", "state", "pos", "eta", "note", "bar", "go_href", "go", "again", "refresh_link", "fine",
        "updated", "qid", "shop_href", "shop_link", "shop_label", "again_token", "page", "accentInk", "accentInkDark", "refresh_href",
    ]

    init(template text: String, strings json: Data) throws {
        let strings = try JSONDecoder().decode([String: [String: String]].self, from: json)
        let base = PagePresentation.languages[0]
        guard let reference = strings[base] else { throw ConfigurationError(description: "strings: no \(base) table") }
        for language in PagePresentation.languages {
            guard let table = strings[language] else { throw ConfigurationError(description: "strings: no \(language) table") }
            let missing = Set(reference.keys).symmetricDifference(table.keys)
            guard missing.isEmpty else {
                throw ConfigurationError(description: "strings: \(language) differs from \(base) in \(missing.sorted().joined(separator: ", "))")
            }
        }
        self.strings = strings
        template = try PageTemplate(text) { name in
            Self.placeholders.contains(name) || (name.hasPrefix("t.") && reference[String(name.dropFirst(2))] != nil)
        }
    }

    /// The built-in page from the module's resources.
    static func builtIn() throws -> WaitPage {
        try WaitPage(template: String(decoding: try resource("wait", "html"), as: UTF8.self), strings: try builtInStrings())
    }

    /// The built-in string table (a custom template may bring its own).
    static func builtInStrings() throws -> Data {
        try resource("strings", "json")
    }

    private static func resource(_ name: String, _ ext: String) throws -> Data {
        guard let url = Bundle.module.url(forResource: name, withExtension: ext, subdirectory: "Resources") else {
            throw ConfigurationError(description: "missing resource \(name).\(ext)")
        }
        return try Data(contentsOf: url)
    }

    // MARK: What the page says

    /// The shop's side of the page: who it is, in which language.
    struct Brand: Sendable, Equatable {
        var room: String
        var language: String
        var heading: String
        var shopUrl: String?
        var logoUrl: String?
        var accent: String
        var message: String?
        var claimWindowSeconds: Int

        init(room: String, settings: RoomSettings?, language: String) {
            self.room = room
            self.language = language
            heading = settings?.displayName ?? room
            shopUrl = settings?.shopUrl
            logoUrl = settings?.logoUrl
            accent = settings?.accentColor ?? "#2f6fed"
            message = settings?.message
            claimWindowSeconds = settings?.claimWindowSeconds ?? 60
        }
    }

    /// The state part of the page; empty texts are hidden.
    struct View: Sendable {
        var stateName = "joining"
        var clock = "", opens = "", state = "", pos = "", eta = "", note = ""
        var bar: Int?
        var go = "", goHref = ""
        var again = false
        /// The "join again" form's token (tied to the shopper's ticket), without JavaScript.
        var againToken = ""
        var fine = "", updated = "", queueID = ""
        /// Without JavaScript: reload after this many seconds (nil: no refresh).
        var refreshSeconds: Int?
        /// The script stays idle (unknown room).
        var stopped = false
        /// The queue id of a new place at the back the page has said so for: the refresh keeps saying it.
        var rejoinedID = ""
    }

    /// A poll or join answer of the public API, as the page without JavaScript reads it.
    struct Status: Decodable, Sendable {
        struct ETA: Decodable, Sendable {
            var low: Int
            var high: Int
        }
        var state: String
        var position: Int64? = nil
        var etaSeconds: ETA? = nil
        var onHold: Bool? = nil
        var pollAfterMs: Int? = nil
        var ticket: String? = nil
        var token: String? = nil
        var checkoutUrl: String? = nil
        var stale: Bool? = nil
        var opensInSeconds: Int? = nil
    }

    func text(_ key: String, _ language: String, _ values: [String: String] = [:]) -> String {
        var text = strings[language]?[key] ?? strings[PagePresentation.languages[0]]?[key] ?? key
        for (name, value) in values { text = text.replacingOccurrences(of: "{\(name)}", with: value) }
        return text
    }

    func number(_ value: Int64, _ language: String) -> String {
        value.formatted(.number.locale(Locale(identifier: language)))
    }

    func number(_ value: Double, _ language: String) -> String {
        value.formatted(.number.precision(.fractionLength(0...1)).locale(Locale(identifier: language)))
    }

    /// The first view, before the script has joined.
    func joining(_ language: String) -> View {
        var view = View()
        view.state = text("joining", language)
        // Without JavaScript the noscript refresh goes at once to the server-rendered page.
        view.refreshSeconds = 0
        return view
    }

    /// What a poll answer means for the shopper, without JavaScript (the script's `render` says the same).
    func view(_ status: Status, brand: Brand, queueID: String, now: Date) -> View {
        let language = brand.language
        var view = View()
        view.stateName = status.state
        view.queueID = queueID.isEmpty ? "" : text("queue_id", language, ["id": queueID])
        view.updated = text("updated", language, ["time": Self.timeText(now, language: language)])
        view.note = status.stale == true ? text("stale", language) : ""
        view.refreshSeconds = max(2, min(60, (status.pollAfterMs ?? 5_000) / 1_000))
        view.fine = text("nojs_refresh", language)
        switch status.state {
        case "scheduled":
            view.state = text("scheduled", language)
            if let seconds = status.opensInSeconds {
                view.clock = text("opens_in", language, ["t": Self.clock(seconds)])
                view.opens = text("opens_at", language, ["time": Self.openingText(now.addingTimeInterval(Double(seconds)), now: now, language: language)])
            }
        case "waiting", "open", "paused":
            view.stateName = status.state == "paused" ? "paused" : "waiting"
            view.state = text(status.state == "paused" ? "paused" : "in_line", language)
            if let position = status.position {
                view.pos = position == 0 ? text("next", language) : position == 1 ? text("ahead_one", language) : text("ahead_other", language, ["n": number(position, language)])
            }
            if status.state != "paused" {
                if status.onHold == true {
                    view.eta = text("on_hold", language)
                } else if let eta = status.etaSeconds {
                    view.eta = text("eta", language, ["eta": etaWords(low: eta.low, high: eta.high, language)])
                } else {
                    view.eta = text("estimating", language)
                }
            }
        case "entering":
            view.state = text("entering", language)
            view.pos = text("next", language)
            view.bar = 100
            view.refreshSeconds = max(1, (status.pollAfterMs ?? 1_000) / 1_000)
        case "admitted":
            view.state = text("admitted", language)
            view.bar = 100
            view.refreshSeconds = nil
            view.fine = ""
            if let url = status.checkoutUrl.map({ Self.checkoutLink($0, token: status.token) }) {
                view.go = text("continue_checkout", language)
                view.goHref = url
            } else {
                view.eta = text("checkout_missing", language)
            }
        case "expired":
            view.state = text("expired_title", language)
            view.eta = text("expired_detail", language)
            view.again = true
            view.refreshSeconds = nil
            view.fine = ""
        case "closed":
            view.state = text("closed_title", language)
            view.eta = text("closed_detail", language)
            view.refreshSeconds = 10
            view.fine = ""
            shopLink(&view, brand)
        case "done":
            view.state = text("done_title", language)
            view.eta = text("done_detail", language)
            view.refreshSeconds = nil
            view.fine = ""
            shopLink(&view, brand)
        default:
            view.state = text("in_line", language)
        }
        return view
    }

    /// What a refused join or poll means for the shopper, without JavaScript.
    func view(_ error: APIError, brand: Brand) -> View {
        let language = brand.language
        var view = View()
        view.stateName = "stopped"
        switch (error.status.code, error.code) {
        case (410, _):
            return self.view(Status(state: "closed"), brand: brand, queueID: "", now: Date())
        case (403, let code) where code.hasPrefix("join_pass"):
            view.state = text("pass_required", language)
            shopLink(&view, brand)
        case (428, _):
            // The browser check (proof of work) needs the script.
            view.state = text("needs_js", language)
        case (429, _), (500..., _):
            let seconds = max(2, min(60, error.retryAfterSeconds ?? 5))
            view.state = text("joining", language)
            view.note = text("cannot_join", language, ["s": number(Int64(seconds), language)])
            view.refreshSeconds = seconds
        default:
            view.state = text("error", language)
            view.eta = text("reload", language)
        }
        return view
    }

    /// "You have a new place at the back of the line", as the script says it after a rejoin, while the
    /// shopper is in line with that place.
    func sayRejoined(_ view: inout View, queueID: String, language: String) {
        guard ["waiting", "paused", "entering", "scheduled"].contains(view.stateName) else { return }
        view.rejoinedID = queueID
        if view.note.isEmpty { view.note = text("rejoined", language) }
    }

    /// The page for an unknown room: translated, styled, with nothing for the script to do.
    func notFound(_ language: String) -> View {
        var view = View()
        view.stateName = "stopped"
        view.state = text("no_room", language)
        view.eta = text("no_room_detail", language)
        view.stopped = true
        return view
    }

    private func shopLink(_ view: inout View, _ brand: Brand) {
        guard let shop = brand.shopUrl else { return }
        view.goHref = shop
        view.go = shopLabel(brand)
    }

    func shopLabel(_ brand: Brand) -> String {
        brand.heading == brand.room ? text("back_to_the_shop", brand.language) : text("back_to_shop", brand.language, ["shop": brand.heading])
    }

    // MARK: Rendering

    /// The page's own address in a language: `/wait/{room}/{language}` (the language in the path, so a
    /// shared cache keys on it without a `Vary`).
    static func path(room: String, language: String) -> String {
        "/wait/\(room)/\(language)"
    }

    /// The template with the shop's side filled in (everything but the view): done once per room, language
    /// and settings, so a request renders only the few placeholders of its state (``render(_:_:pass:)``).
    /// - Parameters:
    ///   - title: a page title other than the shop's name (the unknown room's page).
    ///   - stopped: the script stays idle (an unknown room).
    func prepare(_ brand: Brand, title: String? = nil, stopped: Bool = false) -> PageTemplate {
        let language = brand.language
        var values: [String: String] = [
            "lang": language,
            "page": Self.path(room: brand.room, language: language),
            "title": (title ?? brand.heading) + " · " + text("waiting_room", language),
            "accent": brand.accent, "accentText": PagePresentation.textColor(on: brand.accent),
            "accentInk": PagePresentation.graphicColor(brand.accent, on: Self.lightGrounds),
            "accentInkDark": PagePresentation.graphicColor(brand.accent, on: Self.darkGrounds),
            "logo": brand.logoUrl ?? "", "heading": title ?? brand.heading,
            "message": brand.message ?? "", "room": brand.room,
            "shop_href": brand.shopUrl ?? "", "shop_label": shopLabel(brand),
            "data": scriptData(brand, stopped: stopped),
        ]
        for (key, value) in strings[language] ?? [:] { values["t." + key] = value }
        return template.filling(values)
    }

    /// The card and the progress track in the light theme and the dark one (`wait.html`'s `--card` and
    /// `--line`): the accent's graphics keep 3:1 against both.
    static let lightGrounds = ["#ffffff", "#e3e7ee"]
    static let darkGrounds = ["#1b212b", "#353d4b"]

    /// The whole page. `pass` (a join pass from the page's URL) travels on to the page without JavaScript.
    func render(_ brand: Brand, _ view: View, title: String? = nil, pass: String? = nil) -> String {
        render(prepare(brand, title: title, stopped: view.stopped), brand, view, pass: pass)
    }

    /// The page from a template the shop's side is already in (``prepare(_:title:stopped:)``).
    func render(_ prepared: PageTemplate, _ brand: Brand, _ view: View, pass: String? = nil) -> String {
        prepared.render(viewValues(brand, view, pass: pass))
    }

    /// The placeholders of the shopper's state.
    func viewValues(_ brand: Brand, _ view: View, pass: String?) -> [String: String] {
        let language = brand.language
        var values: [String: String] = [
            "state_name": view.stateName,
            "clock": view.clock, "opens": view.opens, "state": view.state, "pos": view.pos, "eta": view.eta, "note": view.note,
            "bar": view.bar.map(String.init) ?? "", "go": view.go, "go_href": view.goHref, "again": view.again ? "again" : "", "again_token": view.againToken,
            "refresh_link": view.refreshSeconds == nil || view.stopped ? "" : text("refresh_now", language),
            "fine": view.fine, "updated": view.updated, "qid": view.queueID,
            // The small link to the shop steps aside when the main button already goes there.
            "shop_link": brand.shopUrl == nil || view.goHref == brand.shopUrl ? "" : "shown",
            "refresh": "", "refresh_href": noScriptURL(brand, pass: pass, rejoined: view.rejoinedID),
        ]
        if let seconds = view.refreshSeconds, !view.stopped {
            values["refresh"] = refreshTag(brand, seconds: seconds, pass: pass, rejoined: view.rejoinedID)
        }
        return values
    }

    /// The `<meta>` refresh to the page without JavaScript (inside `<noscript>`).
    func refreshTag(_ brand: Brand, seconds: Int, pass: String?, rejoined: String) -> String {
        #"<meta http-equiv="refresh" content="\#(seconds);url=\#(HTML.escape(noScriptURL(brand, pass: pass, rejoined: rejoined)))">"#
    }

    /// The page without JavaScript, in the page's language, with the shop's join pass and the new place's
    /// notice carried along.
    func noScriptURL(_ brand: Brand, pass: String?, rejoined: String) -> String {
        let unreserved = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        var url = Self.path(room: brand.room, language: brand.language) + "?js=0"
        if let pass = pass?.addingPercentEncoding(withAllowedCharacters: unreserved) { url += "&pass=" + pass }
        if let rejoined = rejoined.addingPercentEncoding(withAllowedCharacters: unreserved), !rejoined.isEmpty { url += "&rejoined=" + rejoined }
        return url
    }

    /// What the script needs, as JSON that is safe inside `<script type="application/json">`. Rendered once
    /// per room and language (``prepare(_:title:stopped:)``).
    private func scriptData(_ brand: Brand, stopped: Bool) -> String {
        let object: [String: Any] = [
            "room": brand.room, "lang": brand.language, "title": brand.heading, "strings": strings[brand.language] ?? [:],
            "shopUrl": brand.shopUrl ?? "", "shopLabel": shopLabel(brand), "claimWindowSeconds": brand.claimWindowSeconds,
            "stopped": stopped,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        // `<` never appears raw, so no `</script>` or `<!--` can end or confuse the element.
        return String(decoding: data, as: UTF8.self).replacingOccurrences(of: "<", with: "\\u003c")
    }

    // MARK: Formatting (the script has the same rules)

    /// An ETA range in words: "less than a minute", "about 3 minutes", "about 2–4 minutes", "about 1–1.5 hours".
    func etaWords(low: Int, high: Int, _ language: String) -> String {
        let lo = max(0, low), hi = max(lo, high)
        if hi < 60 { return text("eta_under_minute", language) }
        if hi < 5_400 {
            func minutes(_ x: Int) -> Int { max(1, x < 600 ? Int((Double(x) / 60).rounded()) : Int((Double(x) / 300).rounded()) * 5) }
            let a = minutes(lo), b = max(a, minutes(hi))
            if a == b { return a == 1 ? text("eta_minute_one", language) : text("eta_minutes", language, ["n": number(Int64(a), language)]) }
            return text("eta_minutes_range", language, ["a": number(Int64(a), language), "b": number(Int64(b), language)])
        }
        func hours(_ x: Int) -> Double { max(0.5, (Double(x) / 1_800).rounded() / 2) }
        let a = hours(lo), b = max(a, hours(hi))
        return a == b
            ? text("eta_hours", language, ["n": number(a, language)])
            : text("eta_hours_range", language, ["a": number(a, language), "b": number(b, language)])
    }

    /// A time as the page shows it, the same with JavaScript (the script's `timeText`, in the browser's
    /// zone) and without (in UTC: the server knows no other): the language's own pattern with hours,
    /// minutes, seconds and the zone — "1:00:14 PM UTC", "13:00:14 UTC". (The zone is written as the
    /// browser writes it: ICU's own name for UTC here is "GMT".)
    static func timeText(_ date: Date, language: String) -> String {
        date.formatted(formatStyle(language).hour(.defaultDigits(amPM: .abbreviated)).minute(.twoDigits).second(.twoDigits)) + " UTC"
    }

    /// When a drop opens (the script's `openingText`): the time with its zone, and the day and date when it
    /// is not today (in UTC) — "Thu, Dec 3, 9:00 AM UTC".
    /// The date and the time are formatted apart and joined by ", " (as the script does): ICU joins them
    /// differently in different versions ("Fri, Dec 4 at 11:47 PM" here, "Fri, Dec 4, 11:47 PM" in a browser).
    static func openingText(_ date: Date, now: Date, language: String) -> String {
        let time = date.formatted(formatStyle(language).hour(.defaultDigits(amPM: .abbreviated)).minute(.twoDigits)) + " UTC"
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = utc
        guard !calendar.isDate(date, inSameDayAs: now) else { return time }
        return date.formatted(formatStyle(language).weekday(.abbreviated).month(.abbreviated).day()) + ", " + time
    }

    static let utc = TimeZone(identifier: "UTC")!

    private static func formatStyle(_ language: String) -> Date.FormatStyle {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = utc
        return Date.FormatStyle(locale: Locale(identifier: language), calendar: calendar, timeZone: utc)
    }

    static func clock(_ seconds: Int) -> String {
        let h = seconds / 3_600, m = seconds % 3_600 / 60, s = seconds % 60
        func pad(_ x: Int) -> String { x < 10 ? "0\(x)" : "\(x)" }
        return (h > 0 ? "\(h):\(pad(m))" : pad(m)) + ":" + pad(s)
    }

    /// `checkoutUrl` with `wr_token` appended, keeping its query and fragment (as the script does).
    static func checkoutLink(_ url: String, token: String?) -> String {
        guard let token else { return url }
        let (base, fragment) = url.firstIndex(of: "#").map { (String(url[..<$0]), String(url[$0...])) } ?? (url, "")
        let separator = !base.contains("?") ? "?" : (base.hasSuffix("?") || base.hasSuffix("&")) ? "" : "&"
        return base + separator + "wr_token=" + token + fragment
    }
}
