// Reaches into internals (`@testable`): built and run on the debug build only. The release build runs the
// suites that see the modules as shipped (`make test-release`).
#if DEBUG
import Foundation
import Testing
import WaitingRoomCore
@testable import WaitingRoomServer

/// The waiting page as rendered, without a socket or a Redis (the journeys in a real browser are in
/// `Tests/Browser/journeys.py`).
@Suite("Waiting page: branded, translated, escaped, works without JavaScript")
struct WaitPageTests {
    let page = try! WaitPage.builtIn()

    private func brand(_ adjust: (inout RoomSettings) -> Void = { _ in }, language: String = "en") -> WaitPage.Brand {
        var settings = RoomSettings(rate: 1, checkoutUrl: "https://shop.example/checkout")
        adjust(&settings)
        return WaitPage.Brand(room: "drop1", settings: settings, language: language)
    }

    @Test("every language has every string, and the template uses only known placeholders")
    func tablesComplete() throws {
        for language in PagePresentation.languages {
            #expect(page.strings[language]?.count == page.strings["en"]?.count, "\(language)")
        }
        #expect(throws: PageTemplate.UnknownPlaceholder.self) { try PageTemplate("<p>{{nope}}</p>") { WaitPage.placeholders.contains($0) } }
        var broken = try JSONDecoder().decode([String: [String: String]].self, from: JSONEncoder().encode(page.strings))
        broken["ja"]?.removeValue(forKey: "joining")
        #expect(throws: WaitPage.ConfigurationError.self) {
            try WaitPage(template: "<p>{{t.joining}}</p>", strings: JSONEncoder().encode(broken))
        }
    }

    @Test("the shop's name, logo, colour and message appear escaped; html lang is the language served")
    func branding() throws {
        let html = page.render(brand({
            $0.displayName = "Acme <script>alert(1)</script>"
            $0.message = "One pair \"per\" customer & more"
            $0.logoUrl = "https://cdn.example/logo.png"
            $0.accentColor = "#ffeb3b"
            $0.shopUrl = "https://shop.example/"
        }, language: "de"), page.joining("de"))
        #expect(html.contains(#"<html lang="de">"#))
        #expect(html.contains("<h1>Acme &lt;script&gt;alert(1)&lt;/script&gt;</h1>"))
        #expect(!html.contains("<script>alert(1)"))
        #expect(html.contains("One pair &quot;per&quot; customer &amp; more"))
        #expect(html.contains(#"src="https://cdn.example/logo.png""#))
        #expect(html.contains("--acc:#ffeb3b;--on-acc:#1d2330"))  // dark text on a yellow button
        #expect(html.contains("Warteraum"))
        #expect(html.contains("Sie werden eingereiht"))
        // The script's data cannot close its element, whatever the shop's name says.
        let data = try #require(html.range(of: #"id="wr-data">"#).map { html[$0.upperBound...] }?.prefix { $0 != "<" })
        #expect(data.contains(#"\u003c/script>"#) || data.contains(#"\u003c\/script>"#))
        // Without JavaScript, the page goes to its server-rendered form at once.
        #expect(html.contains(#"<noscript><meta http-equiv="refresh" content="0;url=/wait/drop1/de?js=0"></noscript>"#))
    }

    @Test("the logo's origin, and only it, is added to the page's image sources")
    func logoPolicy() {
        #expect(PageSecurity.origin("https://cdn.example:8443/a/logo.png") == "https://cdn.example:8443")
        #expect(PageSecurity.origin("/static/logo.png") == nil)
        let csp = PageSecurity.contentSecurityPolicy(scriptHashes: [], imageOrigins: ["https://cdn.example"])
        #expect(csp.contains("img-src 'self' data: https://cdn.example;"))
    }

    @Test("without JavaScript: position, ETA and a refresh after pollAfterMs, in the shopper's language")
    func waitingWithoutScript() {
        let status = WaitPage.Status(state: "waiting", position: 1234, etaSeconds: .init(low: 120, high: 300), onHold: false, pollAfterMs: 8_000)
        let view = page.view(status, brand: brand(language: "de"), queueID: "Ab3d-Ef9h", now: Date())
        #expect(view.pos == "1.234 Personen vor Ihnen")
        #expect(view.eta == "Geschätzte Wartezeit: etwa 2–5 Minuten")
        #expect(view.refreshSeconds == 8)
        #expect(view.queueID == "Warte-ID Ab3d-Ef9h")
        let html = page.render(brand(language: "de"), view)
        #expect(html.contains(#"content="8;url=/wait/drop1/de?js=0""#))
        #expect(html.contains("1.234 Personen vor Ihnen"))
    }

    @Test("without JavaScript: admitted gets a checkout link, expired a join-again form, sold out and done the shop")
    func endingsWithoutScript() {
        let shop = brand { $0.shopUrl = "https://shop.example/"; $0.displayName = "Acme" }
        let admitted = page.view(.init(state: "admitted", token: "h.p.s", checkoutUrl: "https://shop.example/checkout?x=1#top"), brand: shop, queueID: "", now: Date())
        #expect(admitted.goHref == "https://shop.example/checkout?x=1&wr_token=h.p.s#top")
        #expect(admitted.refreshSeconds == nil)
        let expired = page.view(.init(state: "expired"), brand: shop, queueID: "", now: Date())
        #expect(expired.again && expired.eta.contains("new place at the back"))
        #expect(page.render(shop, expired).contains(#"action="/wait/drop1/en?js=0&amp;again=1""#))
        let closed = page.view(.init(state: "closed"), brand: shop, queueID: "", now: Date())
        #expect(closed.goHref == "https://shop.example/" && closed.go == "Back to Acme")
        #expect(closed.refreshSeconds != nil)  // a reopened drop lets the shopper back in
        let done = page.view(.init(state: "done"), brand: shop, queueID: "", now: Date())
        #expect(done.state == "Your checkout is finished." && done.goHref == "https://shop.example/" && !done.again)
        let pass = page.view(APIError(.forbidden, "join_pass_required", ""), brand: shop)
        #expect(pass.state == "Sign in at the shop to join the line." && pass.goHref == "https://shop.example/")
    }

    @Test("ETA words", arguments: [
        (0, 30, "less than a minute"), (60, 60, "about 1 minute"), (120, 300, "about 2–5 minutes"),
        (1_200, 1_500, "about 20–25 minutes"), (5_400, 9_000, "about 1.5–2.5 hours"),
    ])
    func etaWords(low: Int, high: Int, expected: String) {
        #expect(page.etaWords(low: low, high: high, "en") == expected)
    }
    @Test("a template filled in ahead renders the same page as rendering it whole")
    func preparedTemplate() throws {
        let shop = brand { $0.displayName = "Acme"; $0.shopUrl = "https://shop.example/"; $0.message = "One <pair>" }
        let prepared = page.prepare(shop)
        #expect(prepared.openPlaceholders.isSubset(of: Set(page.viewValues(shop, page.joining("en"), pass: nil).keys)), "only the view is left")
        let views = [
            page.joining("en"),
            page.view(.init(state: "waiting", position: 12, etaSeconds: .init(low: 60, high: 120), onHold: false, pollAfterMs: 4_000), brand: shop, queueID: "ab12-cd34", now: Date()),
            page.view(.init(state: "closed"), brand: shop, queueID: "", now: Date()),
        ]
        for view in views {
            #expect(page.render(prepared, shop, view, pass: "p") == page.render(shop, view, pass: "p"))
        }
        let template = try PageTemplate("<p>{{a}}</p><i{{b?hidden}}>{{!c}}</i>{{a}}") { _ in true }
        let partly = template.filling(["a": "<x>", "b": ""])
        #expect(partly.openPlaceholders == ["c"])
        #expect(partly.render(["c": "<b>"]) == template.render(["a": "<x>", "b": "", "c": "<b>"]))
        #expect(partly.segments.count == 3, "the literals around a filled placeholder are joined")
    }

    @Test("a new place at the back is said without JavaScript too, and the refresh keeps saying it")
    func rejoinedNotice() {
        var view = page.view(.init(state: "waiting", position: 3, pollAfterMs: 4_000), brand: brand(language: "en"), queueID: "ab12-cd34", now: Date())
        page.sayRejoined(&view, queueID: "ab12-cd34", language: "en")
        #expect(view.note == "You have a new place at the back of the line.")
        let html = page.render(brand(language: "en"), view)
        #expect(html.contains(#"url=/wait/drop1/en?js=0&amp;rejoined=ab12-cd34""#))
        var admitted = page.view(.init(state: "admitted", token: "t", checkoutUrl: "https://shop.example/c"), brand: brand(), queueID: "ab12-cd34", now: Date())
        page.sayRejoined(&admitted, queueID: "ab12-cd34", language: "en")
        #expect(admitted.note.isEmpty)
    }

    @Test("times: one format with and without JavaScript, with the zone; an opening on another day shows the date")
    func times() {
        let noon = Date(timeIntervalSince1970: 1_796_217_614)  // 2026-12-02 13:20:14 UTC
        #expect(WaitPage.timeText(noon, language: "en").replacingOccurrences(of: "\u{202F}", with: " ") == "1:20:14 PM UTC")
        #expect(WaitPage.timeText(noon, language: "de") == "13:20:14 UTC")
        let sameDay = WaitPage.openingText(noon.addingTimeInterval(3_600), now: noon, language: "en").replacingOccurrences(of: "\u{202F}", with: " ")
        #expect(sameDay == "2:20 PM UTC")
        let nextDay = WaitPage.openingText(noon.addingTimeInterval(86_400), now: noon, language: "en")
        #expect(nextDay.contains("Dec") && nextDay.contains("3") && nextDay.contains("UTC"), "\(nextDay)")
    }

    @Test("a light accent gets a darker ink on the card, a dark one a lighter ink on the dark card; the button keeps the shop's colour")
    func accentInk() throws {
        for accent in ["#ffeb3b", "#fff", "#9be7ff", "#2f6fed", "#0b1f4d", "#000000", "#e91e63"] {
            for grounds in [WaitPage.lightGrounds, WaitPage.darkGrounds] {
                let ink = PagePresentation.graphicColor(accent, on: grounds)
                let inkLuminance = PagePresentation.luminance(try #require(PagePresentation.rgb(ink)))
                for ground in grounds {
                    let contrast = PagePresentation.contrast(inkLuminance, PagePresentation.luminance(PagePresentation.rgb(ground)!))
                    #expect(contrast >= 3, "\(accent) → \(ink) on \(ground): \(contrast)")
                }
            }
        }
        #expect(PagePresentation.graphicColor("#2f6fed", on: WaitPage.lightGrounds) == "#2f6fed", "a colour that stands out stays the shop's")
        let html = page.render(brand { $0.accentColor = "#ffeb3b" }, page.joining("en"))
        #expect(html.contains("--acc:#ffeb3b;--on-acc:#1d2330;--acc-ink:#"))
        #expect(html.contains("prefers-color-scheme:dark"))
    }
}
#endif
