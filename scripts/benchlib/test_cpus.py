"""The CPU topology reader and the server/client split, on recorded
topologies (testdata/topology/, see testdata/README.md).

    cd scripts && /usr/bin/python3 -m unittest benchlib.test_cpus -v
"""
from __future__ import annotations

import unittest
from pathlib import Path

from .cpus import CpuSetError, format_list, parse_list, read_topology, recorded_reader, split

TOPOLOGIES = Path(__file__).resolve().parent / "testdata" / "topology"


def topology(name: str):
    return read_topology(recorded_reader((TOPOLOGIES / f"{name}.txt").read_text()))


class ListFormat(unittest.TestCase):
    def test_round_trip(self):
        self.assertEqual(parse_list("0-3,8,10-11"), [0, 1, 2, 3, 8, 10, 11])
        self.assertEqual(format_list([11, 0, 1, 2, 3, 8, 10]), "0-3,8,10-11")
        self.assertEqual(format_list([5]), "5")

    def test_bad_lists_are_refused_with_the_reason(self):
        for text, words in (("", "empty"), ("a", "not a CPU number"), ("3-1", "backwards"),
                            ("1,,2", "not a CPU number"), ("-1", "not a CPU number")):
            with self.subTest(text=text):
                with self.assertRaises(CpuSetError) as e:
                    parse_list(text, "--server-cpus")
                self.assertIn(words, str(e.exception))


class ReadTopology(unittest.TestCase):
    def test_this_machine_two_cores_no_smt(self):
        t = topology("2cpu-vm")
        self.assertEqual(t.online, (0, 1))
        self.assertEqual(t.cores, ((0,), (1,)))
        self.assertFalse(t.smt)

    def test_siblings_grouped_in_core_order(self):
        t = topology("8cpu-4core-smt")
        self.assertEqual(t.cores, ((0, 4), (1, 5), (2, 6), (3, 7)))
        self.assertTrue(t.smt)

    def test_offline_cpu_left_out_of_its_core(self):
        t = topology("8cpu-smt-cpu5-offline")
        self.assertNotIn(5, t.online)
        self.assertIn((1,), t.cores)

    def test_two_sockets_ordered_by_package(self):
        t = topology("64cpu-2socket-smt")
        self.assertEqual(len(t.cores), 32)
        self.assertEqual(t.cores[0], (0, 32))
        self.assertEqual(t.cores[15], (15, 47))
        self.assertEqual(t.cores[16], (16, 48))

    def test_missing_topology_files_mean_one_core_per_cpu(self):
        t = read_topology({"online": "0-2"}.get)
        self.assertEqual(t.cores, ((0,), (1,), (2,)))


class DefaultSplit(unittest.TestCase):
    def check_disjoint_and_complete(self, t, s):
        self.assertFalse(set(s.server) & set(s.client))
        self.assertEqual(sorted(s.server + s.client), list(t.online))
        for core in t.cores:  # siblings on one side only
            self.assertTrue(set(core) <= set(s.server) or set(core) <= set(s.client), core)

    def test_two_cpus_one_each(self):
        t = topology("2cpu-vm")
        s = split(t)
        self.assertEqual((s.server, s.client, s.headline), ([0], [1], [0]))
        self.assertEqual(s.notes, [])

    def test_two_cpus_one_core_splits_the_siblings_and_says_so(self):
        s = split(topology("2cpu-1core-smt"))
        self.assertEqual((s.server, s.client), ([0], [1]))
        self.assertIn("share that core", s.notes[0])

    def test_eight_cpus_with_smt_keep_siblings_together(self):
        t = topology("8cpu-4core-smt")
        s = split(t)
        self.assertEqual((s.server, s.client), ([0, 1, 4, 5], [2, 3, 6, 7]))
        self.check_disjoint_and_complete(t, s)

    def test_eight_cpus_without_smt_half_and_half(self):
        t = topology("8cpu-nosmt")
        s = split(t)
        self.assertEqual((s.server, s.client), ([0, 1, 2, 3], [4, 5, 6, 7]))

    def test_odd_core_goes_to_the_client(self):
        s = split(topology("8cpu-nosmt"), allowed=[0, 1, 2])
        self.assertEqual((s.server, s.client), ([0], [1, 2]))

    def test_offline_cpu_leaves_its_sibling_a_core_alone(self):
        t = topology("8cpu-smt-cpu5-offline")
        s = split(t)
        self.assertEqual((s.server, s.client), ([0, 1, 4], [2, 3, 6, 7]))
        self.check_disjoint_and_complete(t, s)

    def test_sixty_four_cpus_one_socket_each(self):
        for name in ("64cpu-2socket-smt", "64cpu-2socket-nosmt"):
            with self.subTest(name=name):
                t = topology(name)
                s = split(t)
                self.check_disjoint_and_complete(t, s)
                self.assertEqual({t.package_of[c] for c in s.server}, {0})
                self.assertEqual({t.package_of[c] for c in s.client}, {1})
                self.assertEqual(len(s.server), 32)
        self.assertEqual(format_list(split(topology("64cpu-2socket-smt")).server), "0-15,32-47")

    def test_affinity_limits_the_split(self):
        s = split(topology("8cpu-nosmt"), allowed=[2, 3, 4, 5, 6])
        self.assertEqual((s.server, s.client), ([2, 3], [4, 5, 6]))

    def test_single_cpu_is_shared_with_a_note(self):
        s = split(topology("8cpu-nosmt"), allowed=[3])
        self.assertEqual((s.server, s.client), ([3], [3]))
        self.assertIn("share it", s.notes[0])


class GivenSplit(unittest.TestCase):
    def test_server_given_client_is_the_rest(self):
        s = split(topology("8cpu-nosmt"), server="0-1")
        self.assertEqual((s.server, s.client, s.how), ([0, 1], [2, 3, 4, 5, 6, 7], "given"))

    def test_client_given_server_is_the_rest(self):
        s = split(topology("8cpu-nosmt"), client="7")
        self.assertEqual((s.server, s.client), ([0, 1, 2, 3, 4, 5, 6], [7]))

    def test_both_given(self):
        s = split(topology("64cpu-2socket-nosmt"), server="0", client="32-35")
        self.assertEqual((s.server, s.client), ([0], [32, 33, 34, 35]))

    def test_overlap_is_an_error(self):
        with self.assertRaises(CpuSetError) as e:
            split(topology("8cpu-nosmt"), server="0-3", client="3-5")
        self.assertIn("overlap on CPU 3", str(e.exception))

    def test_offline_cpu_is_an_error(self):
        with self.assertRaises(CpuSetError) as e:
            split(topology("8cpu-smt-cpu5-offline"), server="5")
        self.assertIn("CPU 5 is not online", str(e.exception))

    def test_cpu_beyond_the_machine_is_an_error(self):
        with self.assertRaises(CpuSetError) as e:
            split(topology("2cpu-vm"), client="2")
        self.assertIn("CPU 2 is not online (online: 0-1)", str(e.exception))

    def test_cpu_outside_the_affinity_is_an_error(self):
        with self.assertRaises(CpuSetError) as e:
            split(topology("8cpu-nosmt"), allowed=[0, 1, 2], server="0", client="6")
        self.assertIn("not allowed to this process", str(e.exception))

    def test_nothing_left_for_the_other_side_is_an_error(self):
        with self.assertRaises(CpuSetError) as e:
            split(topology("2cpu-vm"), server="0-1")
        self.assertIn("leaves no CPU for the load generator", str(e.exception))

    def test_invalid_syntax_is_an_error(self):
        with self.assertRaises(CpuSetError):
            split(topology("2cpu-vm"), server="zero")

    def test_split_siblings_are_noted(self):
        s = split(topology("8cpu-4core-smt"), server="0-3", client="4-7")
        self.assertEqual(len(s.notes), 4)
        self.assertIn("SMT siblings", s.notes[0])


if __name__ == "__main__":
    unittest.main()
