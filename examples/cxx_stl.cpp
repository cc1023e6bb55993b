// C++ with STL containers and derived datatypes: each rank makes a
// std::vector of particles (a struct of int, double[3], float and char,
// described by MPI_Type_create_struct and resized to sizeof(Particle)),
// hands every particle to its owner with MPI_Alltoall of the counts and
// MPI_Alltoallv of the vectors' data, sorts what it got, tallies it in a
// std::map, reduces a std::array with MPI_Allreduce, finds the heaviest
// particle with a user op on the struct type, and gathers per-rank
// counts on a subcommunicator. Several rounds, so there is traffic
// throughout. Rank 0 prints; the last line is "cxx_stl: OK" or
// "cxx_stl: FAIL (...)".
// Build: mpicxx.mpich cxx_stl.cpp -o cxx_stl
#define NAME "cxx_stl"
#include "example_check.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdio>
#include <map>
#include <numeric>
#include <vector>

namespace {

struct Particle {
    int id;
    double pos[3];
    float mass;
    char kind;
};

MPI_Datatype particle_type()
{
    int blocks[4] = {1, 3, 1, 1};
    MPI_Aint displs[4] = {offsetof(Particle, id), offsetof(Particle, pos), offsetof(Particle, mass),
                          offsetof(Particle, kind)};
    MPI_Datatype types[4] = {MPI_INT, MPI_DOUBLE, MPI_FLOAT, MPI_CHAR};
    MPI_Datatype raw, t;
    MPI_Type_create_struct(4, blocks, displs, types, &raw);
    MPI_Type_create_resized(raw, 0, sizeof(Particle), &t);
    MPI_Type_free(&raw);
    MPI_Type_commit(&t);
    return t;
}

// The heavier particle; the smaller id on a tie, so the op is commutative.
void heaviest(void *in, void *inout, int *len, MPI_Datatype *)
{
    const Particle *a = static_cast<const Particle *>(in);
    Particle *b = static_cast<Particle *>(inout);
    for (int i = 0; i < *len; i++)
        if (a[i].mass > b[i].mass || (a[i].mass == b[i].mass && a[i].id < b[i].id))
            b[i] = a[i];
}

Particle make(int id)
{
    Particle p{};
    p.id = id;
    for (int d = 0; d < 3; d++)
        p.pos[d] = ((id * (7 + d * 3)) % 97) / 4.0;
    p.mass = (float)((id * 31) % 53) + 0.5f;
    p.kind = "abcde"[id % 5];
    return p;
}

} // namespace

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Datatype ptype = particle_type();
    MPI_Op op;
    MPI_Op_create(heaviest, 1, &op);
    MPI_Comm half;
    MPI_Comm_split(MPI_COMM_WORLD, rank % 2, rank, &half);

    const int per_rank = 40, rounds = 5;
    for (int round = 0; round < rounds; round++) {
        // Particles made here, each owned by the rank its position says.
        std::vector<Particle> mine;
        for (int k = 0; k < per_rank + rank; k++)
            mine.push_back(make(round * 10000 + rank * 1000 + k));
        auto owner = [size](const Particle &p) { return (int)(p.pos[0] * 4) % size; };
        std::stable_sort(mine.begin(), mine.end(),
                         [&](const Particle &a, const Particle &b) { return owner(a) < owner(b); });
        std::vector<int> sendcounts(size, 0), recvcounts(size), sdispls(size), rdispls(size);
        for (const Particle &p : mine)
            sendcounts[owner(p)]++;
        MPI_Alltoall(sendcounts.data(), 1, MPI_INT, recvcounts.data(), 1, MPI_INT, MPI_COMM_WORLD);
        std::exclusive_scan(sendcounts.begin(), sendcounts.end(), sdispls.begin(), 0);
        std::exclusive_scan(recvcounts.begin(), recvcounts.end(), rdispls.begin(), 0);
        std::vector<Particle> owned(std::accumulate(recvcounts.begin(), recvcounts.end(), 0));
        MPI_Alltoallv(mine.data(), sendcounts.data(), sdispls.data(), ptype, owned.data(), recvcounts.data(),
                      rdispls.data(), ptype, MPI_COMM_WORLD);

        // Every particle arrived whole at its owner.
        std::sort(owned.begin(), owned.end(), [](const Particle &a, const Particle &b) { return a.id < b.id; });
        std::map<char, int> by_kind;
        for (const Particle &p : owned) {
            Particle want = make(p.id);
            check(owner(p) == rank && p.mass == want.mass && p.kind == want.kind && p.pos[2] == want.pos[2],
                  "particle %d arrived damaged or at the wrong rank", p.id);
            by_kind[p.kind]++;
        }
        std::array<long, 5> kinds{}, all_kinds{};
        for (const auto &kv : by_kind)
            kinds[(size_t)(kv.first - 'a')] = kv.second;
        MPI_Allreduce(kinds.data(), all_kinds.data(), (int)kinds.size(), MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
        long total = std::accumulate(all_kinds.begin(), all_kinds.end(), 0L);
        long made = (long)size * per_rank + (long)size * (size - 1) / 2;
        check(total == made, "round %d: %ld particles owned, %ld made", round, total, made);

        // The heaviest particle of the job, through the user op.
        Particle best = owned.empty() ? make(-1) : owned[0];
        if (owned.empty())
            best.mass = -1.0f;
        for (const Particle &p : owned)
            if (p.mass > best.mass || (p.mass == best.mass && p.id < best.id))
                best = p;
        Particle top;
        MPI_Allreduce(&best, &top, 1, ptype, op, MPI_COMM_WORLD);

        // Counts of the even or odd ranks, gathered on the subcommunicator.
        int n_owned = (int)owned.size(), hsize;
        MPI_Comm_size(half, &hsize);
        std::vector<int> counts(hsize);
        MPI_Allgather(&n_owned, 1, MPI_INT, counts.data(), 1, MPI_INT, half);
        if (rank == 0) {
            std::printf("round %d: %ld particles, kinds", round, total);
            for (long k : all_kinds)
                std::printf(" %ld", k);
            std::printf(", heaviest id %d mass %.1f, even ranks own", top.id, (double)top.mass);
            for (int c : counts)
                std::printf(" %d", c);
            std::printf("\n");
        }
    }
    MPI_Comm_free(&half);
    MPI_Op_free(&op);
    MPI_Type_free(&ptype);
    int rc = finish(rank, size);
    MPI_Finalize();
    return rc;
}
