"""Every feature family of the hand-written log (hand_event_log.py), the expected numbers worked out by hand.

Days are fractional: 4 days and 6 hours is 4.25. Each figure's arithmetic is in the comment beside it.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from hand_event_log import CUTOFFS, SPEC, log_table
from needmap.events.build import build_features
from needmap.events.table_info import LABELS, info_of

C1, C2 = datetime(2024, 1, 15), datetime(2024, 1, 25)

EXPECTED = {
    (C1, "A"): {
        "recency_days": 4.25,  # last event 01-10 18:00
        "recency_purchase_days": 6.625,  # last purchase 01-08 09:00 (the 01-10 line is a return)
        "tenure_days": 13 + 14 / 24,  # first event 01-01 10:00
        "events": 5,
        "purchases": 2,  # orders o1, o2
        "spend": 25.0,  # 10 + 5 + 20 - 10
        "purchases_7d": 1,  # o2 (since 01-08 00:00)
        "spend_7d": 10.0,  # 20 - 10
        "purchases_30d": 2,
        "spend_30d": 25.0,
        "events_purchase": 4,
        "amount_purchase": 25.0,
        "events_view": 1,
        "amount_view": 0.0,
        "category_c1_events": 4,
        "category_c1_amount": 20.0,  # 0 + 10 + 20 - 10
        "category_c2_events": 1,
        "category_c2_amount": 5.0,
        "ipi_mean_days": 5.875,  # 01-02 12:00 -> 01-08 09:00
        "ipi_std_days": 0.0,
        "basket_lines_mean": 1.5,  # o1 two lines, o2 one
        "order_value_mean": 17.5,  # (15 + 20) / 2
        "trend": 0.5,  # 1 of 2 in the last 7 days
        "dow_mon_share": 0.4,  # Mon, Tue, Tue, Mon, Wed
        "dow_tue_share": 0.4,
        "dow_wed_share": 0.2,
        "dow_thu_share": 0.0,
        "dow_fri_share": 0.0,
        "dow_sat_share": 0.0,
        "dow_sun_share": 0.0,
        "hour_mean": 12.2,  # (10 + 12 + 12 + 9 + 18) / 5
        "returns": 1,
        "returned_amount": 10.0,
        "btyd_frequency": 1,  # purchase days 01-02, 01-08
        "btyd_recency_days": 6,
        "btyd_age_days": 13,  # 01-02 to 01-15
        "btyd_monetary": 20.0,  # the repeat day 01-08
        "last_items": ["i1", "i2", "i3"],  # the last 3 items before the cutoff, returns left out
        "categories": ["c1", "c2"],
        "label_bought": 1,  # o4 on 01-16
        "label_purchases": 1,
        "label_spend": 30.0,
    },
    (C1, "B"): {
        "recency_days": 16 / 24,  # 01-14 08:00
        "recency_purchase_days": 16 / 24,
        "tenure_days": 9 + 10 / 24,  # 01-05 14:00
        "events": 3,
        "purchases": 2,
        "spend": 20.0,
        "purchases_7d": 1,
        "spend_7d": 12.0,
        "purchases_30d": 2,
        "spend_30d": 20.0,
        "events_purchase": 2,
        "amount_purchase": 20.0,
        "events_view": 1,
        "amount_view": 0.0,
        "category_c1_events": 0,
        "category_c1_amount": 0.0,
        "category_c2_events": 1,
        "category_c2_amount": 8.0,
        "ipi_mean_days": 8.75,  # 01-05 14:00 -> 01-14 08:00
        "ipi_std_days": 0.0,
        "basket_lines_mean": 1.0,
        "order_value_mean": 10.0,
        "trend": 0.5,
        "dow_mon_share": 0.0,
        "dow_tue_share": 0.0,
        "dow_wed_share": 0.0,
        "dow_thu_share": 0.0,
        "dow_fri_share": 1 / 3,
        "dow_sat_share": 1 / 3,
        "dow_sun_share": 1 / 3,
        "hour_mean": 38 / 3,  # 14, 16, 8
        "returns": 0,
        "returned_amount": 0.0,
        "btyd_frequency": 1,
        "btyd_recency_days": 9,  # 01-05 to 01-14
        "btyd_age_days": 10,
        "btyd_monetary": 12.0,
        "last_items": ["i2", "i4", "i4"],
        "categories": ["c2"],  # c3 is not among the top 2 (c1: 4 events, c2 and c3: 2, ties by name)
        "label_bought": 1,
        "label_purchases": 1,
        "label_spend": 7.0,
    },
    (C2, "A"): {
        "recency_days": 4 + 14 / 24,  # 01-20 10:00
        "recency_purchase_days": 8 + 14 / 24,  # 01-16 10:00
        "tenure_days": 23 + 14 / 24,
        "events": 7,
        "purchases": 3,
        "spend": 55.0,
        "purchases_7d": 0,  # since 01-18: a view only
        "spend_7d": 0.0,
        "purchases_30d": 3,
        "spend_30d": 55.0,
        "events_purchase": 5,
        "amount_purchase": 55.0,
        "events_view": 2,
        "amount_view": 0.0,
        "category_c1_events": 5,
        "category_c1_amount": 20.0,
        "category_c2_events": 2,
        "category_c2_amount": 35.0,
        "ipi_mean_days": (5.875 + 8 + 1 / 24) / 2,  # gaps 5.875 and 8 days 1 hour
        "ipi_std_days": (8 + 1 / 24 - 5.875) / 2,  # population standard deviation of two values
        "basket_lines_mean": 4 / 3,
        "order_value_mean": 65 / 3,  # 15, 20, 30
        "trend": 0.0,
        "dow_mon_share": 2 / 7,
        "dow_tue_share": 3 / 7,
        "dow_wed_share": 1 / 7,
        "dow_thu_share": 0.0,
        "dow_fri_share": 0.0,
        "dow_sat_share": 1 / 7,
        "dow_sun_share": 0.0,
        "hour_mean": 81 / 7,
        "returns": 1,
        "returned_amount": 10.0,
        "btyd_frequency": 2,
        "btyd_recency_days": 14,  # 01-02 to 01-16
        "btyd_age_days": 23,
        "btyd_monetary": 25.0,  # (20 + 30) / 2
        "last_items": ["i3", "i2", "i3"],
        "categories": ["c1", "c2"],
        "label_bought": 0,
        "label_purchases": 0,
        "label_spend": 0.0,
    },
    (C2, "B"): {
        "recency_days": 2 + 4 / 24,  # 01-22 20:00
        "recency_purchase_days": 2 + 4 / 24,
        "tenure_days": 19 + 10 / 24,
        "events": 4,
        "purchases": 3,
        "spend": 27.0,
        "purchases_7d": 1,
        "spend_7d": 7.0,
        "purchases_30d": 3,
        "spend_30d": 27.0,
        "events_purchase": 3,
        "amount_purchase": 27.0,
        "events_view": 1,
        "amount_view": 0.0,
        "category_c1_events": 0,
        "category_c1_amount": 0.0,
        "category_c2_events": 1,
        "category_c2_amount": 8.0,
        "ipi_mean_days": 8.625,  # gaps 8.75 and 8.5
        "ipi_std_days": 0.125,
        "basket_lines_mean": 1.0,
        "order_value_mean": 9.0,
        "trend": 1 / 3,
        "dow_mon_share": 0.25,
        "dow_tue_share": 0.0,
        "dow_wed_share": 0.0,
        "dow_thu_share": 0.0,
        "dow_fri_share": 0.25,
        "dow_sat_share": 0.25,
        "dow_sun_share": 0.25,
        "hour_mean": 14.5,
        "returns": 0,
        "returned_amount": 0.0,
        "btyd_frequency": 2,
        "btyd_recency_days": 17,  # 01-05 to 01-22
        "btyd_age_days": 20,
        "btyd_monetary": 9.5,  # (12 + 7) / 2
        "last_items": ["i4", "i4", "i4"],
        "categories": ["c2"],
        "label_bought": 0,  # its next purchase, 02-05, is after the horizon's end 02-04
        "label_purchases": 0,
        "label_spend": 0.0,
    },
    (C2, "C"): {
        "recency_days": 5 + 13 / 24,  # 01-19 11:00
        "recency_purchase_days": 5 + 13 / 24,
        "tenure_days": 6 + 13 / 24,
        "events": 2,
        "purchases": 1,
        "spend": 15.0,
        "purchases_7d": 1,
        "spend_7d": 15.0,
        "purchases_30d": 1,
        "spend_30d": 15.0,
        "events_purchase": 1,
        "amount_purchase": 15.0,
        "events_view": 1,
        "amount_view": 0.0,
        "category_c1_events": 2,
        "category_c1_amount": 15.0,
        "category_c2_events": 0,
        "category_c2_amount": 0.0,
        "ipi_mean_days": None,  # one purchase: no interval
        "ipi_std_days": None,
        "basket_lines_mean": 1.0,
        "order_value_mean": 15.0,
        "trend": 1.0,
        "dow_mon_share": 0.0,
        "dow_tue_share": 0.0,
        "dow_wed_share": 0.0,
        "dow_thu_share": 0.5,
        "dow_fri_share": 0.5,
        "dow_sat_share": 0.0,
        "dow_sun_share": 0.0,
        "hour_mean": 11.0,
        "returns": 0,
        "returned_amount": 0.0,
        "btyd_frequency": 0,
        "btyd_recency_days": 0,
        "btyd_age_days": 6,
        "btyd_monetary": 0.0,
        "last_items": ["i1", "i1"],
        "categories": ["c1"],
        "label_bought": 1,  # 01-30
        "label_purchases": 1,
        "label_spend": 6.0,
    },
}


@pytest.fixture(scope="module")
def built():
    return build_features(log_table(), SPEC, CUTOFFS)


def test_rows_are_the_customers_with_an_event_before_each_cutoff_sorted(built):
    keys = list(zip(built.column("cutoff").to_pylist(), built.column("customer").to_pylist(), strict=True))
    assert keys == list(EXPECTED)  # C has no event before 01-15: no row at that cutoff


def test_every_feature_family_has_its_hand_computed_value(built):
    expected_columns = ["cutoff", "customer", *EXPECTED[(C1, "A")]]
    assert sorted(built.column_names) == sorted(expected_columns)
    for row in built.to_pylist():
        want = EXPECTED[(row["cutoff"], row["customer"])]
        for name, value in want.items():
            got = row[name]
            if isinstance(value, float):
                assert got == pytest.approx(value, abs=1e-9), (row["cutoff"], row["customer"], name)
            else:
                assert got == value, (row["cutoff"], row["customer"], name)


def test_the_description_records_the_choices(built):
    info = info_of(built)
    assert info.as_of == ("2024-01-15", "2024-01-25")
    assert info.labels == LABELS
    assert info.bad_rows == {}
    assert info.extra["event_types"] == ["purchase", "view"]  # 6 and 2 events before 01-15
    assert info.extra["categories"] == ["c1", "c2"]
    assert info.extra["list_columns"] == {"last_items": "sequence", "categories": "multihot"}
    assert info.spec == SPEC
