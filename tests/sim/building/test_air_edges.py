"""Zone CO2 and the MQTT sensors at the edges: an airflow that is not a flow (NaN, negative) stays in
its zone, and a CO2 that is not a number is not published (``round(nan)`` ended the publisher)."""

from __future__ import annotations

import json
import math
from datetime import datetime

import numpy as np

from openbms.runtime.clock import ManualClock
from openbms.sim.building import Building
from openbms.sim.building.air import OUTDOOR_CO2, ZoneAir
from openbms.sim.building.mqtt import MqttSensors


def _zones() -> ZoneAir:
    air = ZoneAir(np.array([100.0, 100.0, 100.0]))
    air.count(np.array([5.0, 5.0, 5.0]))
    return air


def test_a_box_whose_airflow_is_not_a_number_does_not_poison_the_other_zones():
    air, clean = _zones(), _zones()
    for _ in range(30):
        air.step(60.0, np.array([math.nan, 0.2, 0.2]), 0.3, np.array([0.01, 0.01, 0.01]))
        clean.step(60.0, np.array([0.0, 0.2, 0.2]), 0.3, np.array([0.01, 0.01, 0.01]))
    assert np.isfinite(air.co2).all(), air.co2  # the return air mixed NaN into every zone
    assert air.co2.tolist() == clean.co2.tolist()  # a box with no number delivers no air


def test_a_negative_airflow_is_no_airflow():
    air, clean = _zones(), _zones()
    for _ in range(30):
        air.step(60.0, np.array([-20.0, 0.2, 0.2]), 0.3, np.array([-0.5, 0.01, 0.01]))
        clean.step(60.0, np.array([0.0, 0.2, 0.2]), 0.3, np.array([0.0, 0.01, 0.01]))
    assert air.co2.tolist() == clean.co2.tolist()
    assert (air.co2 > OUTDOOR_CO2).all()


def test_an_outdoor_air_fraction_that_is_not_a_number_leaves_the_co2_a_number():
    air = _zones()
    air.step(60.0, np.array([0.2, 0.2, 0.2]), math.nan, np.array([0.01, 0.01, 0.01]))
    assert np.isfinite(air.co2).all(), air.co2


def test_a_sensor_without_a_co2_number_publishes_its_people_only():
    building = Building(start=datetime(2025, 4, 7, 10))
    sensors = MqttSensors(building, ManualClock(building.timestamp))
    building.air.co2[0] = math.nan
    building.air.co2[1] = math.inf
    messages = dict(sensors.messages())  # raised ValueError: the publisher task ended
    (co2_0, people_0), (co2_1, _people_1), (co2_2, _people_2) = sensors.topics[:3]
    assert co2_0 not in messages and co2_1 not in messages
    assert people_0 in messages
    assert json.loads(messages[co2_2])["co2"] == round(float(building.air.co2[2]))
    assert len(messages) == 2 * len(sensors.topics) - 2
