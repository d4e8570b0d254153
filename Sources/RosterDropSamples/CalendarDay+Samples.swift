import RosterDrop

extension CalendarDay {
    /// A date the generator knows to exist (its constants).
    init(_ year: Int, _ month: Int, _ day: Int) {
        guard let date = CalendarDay(year: year, month: month, day: day) else {
            preconditionFailure("\(year)-\(month)-\(day) is not a date")
        }
        self = date
    }
}
