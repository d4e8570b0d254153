import Foundation

/// Whether an organisation's deliveries change the portal.
public enum OrganisationMode: String, Sendable {
    /// Deliveries are applied.
    case live
    /// Every delivery is read, checked, planned and answered (outcome `test`), and recorded so
    /// it is not taken again, but the portal is left unchanged (contract rule 8).
    case test
}

/// When a delivery removes so much that it is held for an operator (the contract's Safety).
///
///     hold:
///       users: 10          # percent of the organisation's Skolon accounts
///       groups: 20         # … of its Skolon groups
///       memberships: 20
///       licenses: 20
///       minimum: 5         # fewer removals than this are never held (a small school's churn)
public struct HoldPolicy: Sendable, Equatable {
    static let keys: Set<String> = ["users", "groups", "memberships", "licenses", "minimum"]

    /// Largest share of each kind a delivery may remove without a hold, in percent.
    public var percent: [EntityKind: Double]
    public var minimum: Int

    public init(percent: [EntityKind: Double] = HoldPolicy.defaultPercent, minimum: Int = 5) {
        self.percent = percent
        self.minimum = minimum
    }

    public static let defaultPercent: [EntityKind: Double] = [
        .users: 10, .groups: 20, .memberships: 20, .distributionOrders: 20,
    ]

    init(_ object: YAMLObject?) throws {
        self.init()
        guard let object else { return }
        for (key, kind) in [("users", EntityKind.users), ("groups", .groups), ("memberships", .memberships),
                            ("licenses", .distributionOrders)] {
            guard let text = try object.string(key) else { continue }
            guard let value = Double(text.hasSuffix("%") ? String(text.dropLast()) : text), value >= 0, value <= 100 else {
                throw object.error(key, "expected a percentage from 0 to 100, found '\(text)'")
            }
            percent[kind] = value
        }
        if let minimum = try object.int("minimum") {
            guard minimum >= 0 else { throw object.error("minimum", "must not be negative") }
            self.minimum = minimum
        }
    }
}

/// How long the job keeps what it no longer needs (contract rule 9).
///
///     retention:
///       archive_days: 30       # inbound files in archive/
///       report_days: 30        # the job's own reports in outbox/
///       removal_log_days: 180  # ids about people: removals (person_id, when, why), the change log
///                              # behind `rosterdrop history`, and which rejected rows named whom
public struct RetentionPolicy: Sendable, Equatable {
    static let keys: Set<String> = ["archive_days", "report_days", "removal_log_days"]

    public var archiveDays: Int
    public var reportDays: Int
    public var removalLogDays: Int

    public init(archiveDays: Int = 30, reportDays: Int = 30, removalLogDays: Int = 180) {
        self.archiveDays = archiveDays
        self.reportDays = reportDays
        self.removalLogDays = removalLogDays
    }

    init(_ object: YAMLObject?) throws {
        self.init()
        guard let object else { return }
        func days(_ key: String, _ value: Int) throws -> Int {
            guard let number = try object.int(key) else { return value }
            guard number >= 1, number <= 3650 else { throw object.error(key, "\(number) is outside 1…3650") }
            return number
        }
        archiveDays = try days("archive_days", archiveDays)
        reportDays = try days("report_days", reportDays)
        removalLogDays = try days("removal_log_days", removalLogDays)
    }
}

/// An organisation's integration start and the clean-up after it (contract rule 5).
public struct IntegrationPolicy: Sendable, Equatable {
    /// The configured start day, if the config names one (`integration_start`); else the
    /// day recorded by `rosterdrop integrate`, if any.
    public var start: CalendarDay?
    /// Days after the start within which an old account must be given a license through
    /// Skolon (`cleanup_days`).
    public var cleanupDays: Int
    /// From how many days before the deadline the accounts at risk are listed in the outbox.
    public var warningDays: Int

    public init(start: CalendarDay? = nil, cleanupDays: Int = 30, warningDays: Int = 7) {
        self.start = start
        self.cleanupDays = cleanupDays
        self.warningDays = warningDays
    }
}
