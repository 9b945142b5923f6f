import Testing
import WaitingRoomCore

@Suite("Pre-queue lottery")
struct LotteryPermutationTests {
    @Test("a bijection for every size up to 3,000 (and a few larger)")
    func bijection() {
        let sizes = Array(1...3_000) + [4_095, 4_096, 4_097, 10_007]
        for (index, size) in sizes.enumerated() {
            let lottery = LotteryPermutation(size: UInt64(size), key: (UInt64(index) &* 0x9E37_79B9, 0xDEAD_BEEF))
            var seen = [Bool](repeating: false, count: size)
            var ok = true
            for value in 0..<UInt64(size) {
                let image = Int(lottery.permute(value))
                if image >= size || seen[image] { ok = false; break }
                seen[image] = true
            }
            #expect(ok, "size \(size) is not a bijection")
        }
    }

    @Test("places are uniform across keys (chi-square)")
    func uniformity() {
        // Where does pre-queue number 0 (the earliest arrival) land, over many keys? It must not favour any place.
        let size = 50
        let trials = 50_000
        var counts = [Int](repeating: 0, count: size)
        var lastCounts = [Int](repeating: 0, count: size)
        for trial in 0..<trials {
            let lottery = LotteryPermutation(size: UInt64(size), key: (UInt64(trial), UInt64(trial) &* 0x2545_F491_4F6C_DD1D))
            counts[Int(lottery.permute(0))] += 1
            lastCounts[Int(lottery.permute(UInt64(size - 1)))] += 1
        }
        let expected = Double(trials) / Double(size)
        for histogram in [counts, lastCounts] {
            let chiSquare = histogram.reduce(0.0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
            // 49 degrees of freedom: the 99.9th percentile is about 85.4.
            #expect(chiSquare < 85.4, "chi-square \(chiSquare)")
        }
    }

    @Test("the same key gives the same order; another key another")
    func keyed() throws {
        let a = try #require(LotteryPermutation(size: 1_000, key: "00112233445566778899aabbccddeeff"))
        let b = try #require(LotteryPermutation(size: 1_000, key: "00112233445566778899aabbccddeeff"))
        let c = try #require(LotteryPermutation(size: 1_000, key: "ffeeddccbbaa99887766554433221100"))
        let orderA = (0..<1_000).map { a.permute($0) }
        #expect(orderA == (0..<1_000).map { b.permute($0) })
        #expect(orderA != (0..<1_000).map { c.permute($0) })
        #expect(orderA != Array(0..<1_000))
        #expect(LotteryPermutation(size: 10, key: "xyz") == nil)
    }

    @Test("effective positions: lottery for the pre-queue, FIFO after it")
    func effectivePositions() {
        var snapshot = RoomSnapshot(name: "r", settings: RoomSettings(rate: 1, checkoutUrl: "https://shop/checkout"), state: .open, epoch: "e", tail: 200, head: 0)
        #expect(snapshot.effectivePosition(ofSeq: 5) == 5)
        snapshot.prequeue = 100
        snapshot.lotteryKey = "00112233445566778899aabbccddeeff"
        let drawn = (1...100).map { snapshot.effectivePosition(ofSeq: $0) }
        #expect(Set(drawn) == Set(1...100))
        #expect(snapshot.effectivePosition(ofSeq: 101) == 101)
        #expect(snapshot.effectivePosition(ofSeq: 150) == 150)
    }
}

@Suite("Pre-queue lottery: the README's vectors and arrival order")
struct LotteryVectorTests {
    /// The README's test vectors (also in `scripts/lottery/lottery.py`): permutation key (the beacon already
    /// mixed in), pre-queue size, the drawn places of pre-queue numbers 1...10.
    static let vectors: [(key: String, size: UInt64, first: [UInt64])] = [
        ("00112233445566778899aabbccddeeff", 10, [4, 7, 10, 5, 2, 1, 6, 3, 9, 8]),
        ("00112233445566778899aabbccddeeff", 1_000, [311, 10, 801, 163, 326, 746, 331, 36, 718, 106]),
        ("9f2c4a1b0d3e5f67a8b9c0d1e2f30415", 100_000, [19275, 63628, 89389, 7216, 58508, 43337, 733, 35785, 71259, 70880]),
        ("d651cb852682f6c3b59c267336496e17", 100_000, [491, 870, 34087, 54514, 71819, 67632, 97036, 44484, 25586, 43159]),
        ("ffffffffffffffffffffffffffffffff", 1, [1]),
    ]

    @Test("the drawn places match the README's vectors", arguments: 0..<vectors.count)
    func vector(index: Int) throws {
        let vector = Self.vectors[index]
        let lottery = try #require(LotteryPermutation(size: vector.size, key: vector.key))
        #expect((1...UInt64(vector.first.count)).map { lottery.permute($0 - 1) + 1 } == vector.first)
    }

    @Test("arrival order says nothing about the drawn place (Spearman's rank correlation ≈ 0)")
    func rankCorrelation() {
        // For a uniform permutation of n the correlation has standard deviation 1/sqrt(n - 1): 0.0045 at 50,000.
        let n = 50_000
        for trial in 0..<5 {
            let lottery = LotteryPermutation(size: UInt64(n), key: (UInt64(trial) &* 0x9E37_79B9_7F4A_7C15, 0xC0FF_EE00 + UInt64(trial)))
            var sumSquares = 0.0
            for index in 0..<n {
                let difference = Double(Int(lottery.permute(UInt64(index))) - index)
                sumSquares += difference * difference
            }
            let rho = 1 - 6 * sumSquares / (Double(n) * (Double(n) * Double(n) - 1))
            #expect(abs(rho) < 0.02, "trial \(trial): rho \(rho)")
        }
    }

    @Test("a beacon is printable ASCII, 1 to 256 characters, no surrounding spaces")
    func beacons() {
        #expect(LotteryPermutation.beaconProblem("drand quicknet 1234567: 0a1b") == nil)
        #expect(LotteryPermutation.beaconProblem("") != nil)
        #expect(LotteryPermutation.beaconProblem(" x") != nil)
        #expect(LotteryPermutation.beaconProblem("naïve") != nil)
        #expect(LotteryPermutation.beaconProblem(String(repeating: "a", count: 257)) != nil)
    }
}
