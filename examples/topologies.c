/*
 * topologies.c - virtual topologies: a 2-D cartesian grid (MPI_Cart_create,
 * MPI_Cart_sub, MPI_Cart_rank/Cart_coords/Cart_get/Cartdim_get), a graph
 * topology (MPI_Graph_create, Graph_neighbors_count/Graph_neighbors,
 * Graphdims_get, Topo_test), a distributed graph
 * (MPI_Dist_graph_create_adjacent, weighted and with MPI_UNWEIGHTED,
 * Dist_graph_neighbors_count/_neighbors),
 * and the neighbourhood collectives MPI_Neighbor_allgather and
 * MPI_Neighbor_alltoall on a periodic 1-D cartesian ring.  Topology
 * information is part of a communicator's state that a checkpoint/restart
 * system has to restore.
 *
 * Build: mpicc.mpich -std=gnu11 -O2 -Wall -Wextra -Werror topologies.c -o topologies
 */
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "topologies"
#include "example_check.h"

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    long checksum = 0;

    /* 2-D cartesian grid, periodic in dimension 1 only, no reordering. */
    int dims[2] = { 0, 0 }, periods[2] = { 0, 1 };
    MPI_Dims_create(size, 2, dims);
    check(dims[0] * dims[1] == size && dims[0] >= dims[1], "dims %d x %d", dims[0], dims[1]);
    MPI_Comm cart;
    MPI_Cart_create(MPI_COMM_WORLD, 2, dims, periods, 0, &cart);
    int st = -1;
    MPI_Topo_test(cart, &st);
    check(st == MPI_CART, "topo_test cart %d", st);
    int nd = -1;
    MPI_Cartdim_get(cart, &nd);
    check(nd == 2, "cartdim %d", nd);
    int gd[2], gp[2], gc[2];
    MPI_Cart_get(cart, 2, gd, gp, gc);
    check(gd[0] == dims[0] && gd[1] == dims[1] && gp[0] == 0 && gp[1] == 1,
          "cart_get dims %dx%d periods %d%d", gd[0], gd[1], gp[0], gp[1]);
    check(gc[0] == rank / dims[1] && gc[1] == rank % dims[1], "cart_get coords %d,%d", gc[0], gc[1]);
    int cc[2];
    MPI_Cart_coords(cart, rank, 2, cc);
    check(cc[0] == gc[0] && cc[1] == gc[1], "cart_coords %d,%d", cc[0], cc[1]);
    for (int r = 0; r < size; r++) {
        int co[2], back = -1;
        MPI_Cart_coords(cart, r, 2, co);
        MPI_Cart_rank(cart, co, &back);
        check(back == r, "cart_rank(coords(%d)) = %d", r, back);
    }
    /* Periodic dimension wraps: coordinate dims[1] is column 0. */
    {
        int co[2] = { cc[0], cc[1] + dims[1] }, r = -1;
        MPI_Cart_rank(cart, co, &r);
        check(r == rank, "periodic cart_rank %d", r);
    }

    /* Cart_sub: rows (keep dim 1) and columns (keep dim 0). */
    MPI_Comm row, col;
    MPI_Cart_sub(cart, (int[2]){ 0, 1 }, &row);
    MPI_Cart_sub(cart, (int[2]){ 1, 0 }, &col);
    int rr, rs, cr, cs;
    MPI_Comm_rank(row, &rr);
    MPI_Comm_size(row, &rs);
    MPI_Comm_rank(col, &cr);
    MPI_Comm_size(col, &cs);
    check(rs == dims[1] && rr == cc[1], "row sub rank %d size %d", rr, rs);
    check(cs == dims[0] && cr == cc[0], "col sub rank %d size %d", cr, cs);
    int rsum = 0, csum = 0;
    MPI_Allreduce(&rank, &rsum, 1, MPI_INT, MPI_SUM, row);
    MPI_Allreduce(&rank, &csum, 1, MPI_INT, MPI_SUM, col);
    {
        int wr = 0, wc = 0;
        for (int j = 0; j < dims[1]; j++)
            wr += cc[0] * dims[1] + j;
        for (int i = 0; i < dims[0]; i++)
            wc += i * dims[1] + cc[1];
        check(rsum == wr && csum == wc, "row sum %d/%d col sum %d/%d", rsum, wr, csum, wc);
    }
    int sdim = -1;
    MPI_Cartdim_get(row, &sdim);
    check(sdim == 1, "row cartdim %d", sdim);
    checksum += rsum + 10 * csum;

    /* Graph topology: a ring with a chord from each rank to rank 0. */
    int *index = xmalloc(sizeof(int) * (size_t)size);
    int *edges = xmalloc(sizeof(int) * (size_t)size * 3);
    int ne = 0;
    for (int r = 0; r < size; r++) {
        if (size > 1) {
            edges[ne++] = (r + 1) % size;
            if (size > 2)
                edges[ne++] = (r + size - 1) % size;
        }
        if (r != 0 && (r + 1) % size != 0 && (r + size - 1) % size != 0)
            edges[ne++] = 0;
        index[r] = ne;
    }
    /* The chords are one-way (rank 0 lists only its ring neighbours),
     * which MPI_Graph_create allows. */
    MPI_Comm graph;
    MPI_Graph_create(MPI_COMM_WORLD, size, index, edges, 0, &graph);
    MPI_Topo_test(graph, &st);
    check(st == MPI_GRAPH, "topo_test graph %d", st);
    int gnn = -1, gne = -1;
    MPI_Graphdims_get(graph, &gnn, &gne);
    check(gnn == size && gne == ne, "graphdims %d %d want %d %d", gnn, gne, size, ne);
    int nn = -1;
    MPI_Graph_neighbors_count(graph, rank, &nn);
    int first = rank ? index[rank - 1] : 0;
    check(nn == index[rank] - first, "graph neighbors count %d", nn);
    int nb[3] = { -1, -1, -1 };
    MPI_Graph_neighbors(graph, rank, 3, nb);
    for (int i = 0; i < nn && i < 3; i++)
        check(nb[i] == edges[first + i], "graph neighbor %d = %d want %d", i, nb[i], edges[first + i]);
    int gsum = 0;
    MPI_Allreduce(&nn, &gsum, 1, MPI_INT, MPI_SUM, graph);
    check(gsum == ne, "graph allreduce %d", gsum);
    checksum += 100L * gsum;

    /* Distributed graph: each rank receives from left and sends to right
     * (and to right+1 when there are enough ranks), with weights. */
    int left = (rank + size - 1) % size, right = (rank + 1) % size;
    int two = size >= 3;
    int srcs[2] = { left, (rank + size - 2) % size }, sw[2] = { 1, 2 };
    int dsts[2] = { right, (rank + 2) % size }, dw[2] = { 1, 2 };
    MPI_Comm dg;
    MPI_Dist_graph_create_adjacent(MPI_COMM_WORLD, 1 + two, srcs, sw, 1 + two, dsts, dw,
                                   MPI_INFO_NULL, 0, &dg);
    MPI_Topo_test(dg, &st);
    check(st == MPI_DIST_GRAPH, "topo_test dist graph %d", st);
    int indeg = -1, outdeg = -1, weighted = -1;
    MPI_Dist_graph_neighbors_count(dg, &indeg, &outdeg, &weighted);
    check(indeg == 1 + two && outdeg == 1 + two && weighted, "dist graph count %d %d %d",
          indeg, outdeg, weighted);
    int gs[2] = { -1, -1 }, gsw[2] = { -1, -1 }, gdt[2] = { -1, -1 }, gdw[2] = { -1, -1 };
    MPI_Dist_graph_neighbors(dg, 2, gs, gsw, 2, gdt, gdw);
    for (int i = 0; i < 1 + two; i++) {
        check(gs[i] == srcs[i] && gsw[i] == sw[i], "dist graph source %d = %d w %d", i, gs[i], gsw[i]);
        check(gdt[i] == dsts[i] && gdw[i] == dw[i], "dist graph dest %d = %d w %d", i, gdt[i], gdw[i]);
    }
    /* Neighbour allgather on the dist graph: receive from the sources. */
    int dgot[2] = { -1, -1 }, me = 1000 + rank;
    MPI_Neighbor_allgather(&me, 1, MPI_INT, dgot, 1, MPI_INT, dg);
    for (int i = 0; i < 1 + two; i++)
        check(dgot[i] == 1000 + srcs[i], "dist neighbor allgather [%d]=%d", i, dgot[i]);
    checksum += dgot[0];

    /* The same graph unweighted: MPI_UNWEIGHTED in and out (under MANA a
     * sentinel of libmana that the lower MPI must see as its own). */
    MPI_Comm ug;
    MPI_Dist_graph_create_adjacent(MPI_COMM_WORLD, 1 + two, srcs, MPI_UNWEIGHTED, 1 + two, dsts, MPI_UNWEIGHTED,
                                   MPI_INFO_NULL, 0, &ug);
    MPI_Dist_graph_neighbors_count(ug, &indeg, &outdeg, &weighted);
    check(indeg == 1 + two && outdeg == 1 + two && !weighted, "unweighted dist graph count %d %d %d", indeg,
          outdeg, weighted);
    MPI_Dist_graph_neighbors(ug, 2, gs, MPI_UNWEIGHTED, 2, gdt, MPI_UNWEIGHTED);
    check(gs[0] == srcs[0] && gdt[0] == dsts[0], "unweighted dist graph neighbours %d %d", gs[0], gdt[0]);
    MPI_Comm_free(&ug);

    /* Periodic 1-D ring: neighbour order is (left, right). */
    MPI_Comm ring;
    MPI_Cart_create(MPI_COMM_WORLD, 1, (int[1]){ size }, (int[1]){ 1 }, 0, &ring);
    int src = -1, dst = -1;
    MPI_Cart_shift(ring, 0, 1, &src, &dst);
    check(src == left && dst == right, "ring shift %d %d", src, dst);
    int ag[2] = { -1, -1 }, val = rank * rank + 3;
    MPI_Neighbor_allgather(&val, 1, MPI_INT, ag, 1, MPI_INT, ring);
    check(ag[0] == left * left + 3 && ag[1] == right * right + 3, "ring allgather %d %d", ag[0], ag[1]);
    /* Alltoall: block 0 goes to the left neighbour, block 1 to the right. */
    int sendb[2][3], recvb[2][3];
    for (int k = 0; k < 3; k++) {
        sendb[0][k] = 100 * rank + 10 * 0 + k; /* to left */
        sendb[1][k] = 100 * rank + 10 * 1 + k; /* to right */
        recvb[0][k] = recvb[1][k] = -1;
    }
    MPI_Neighbor_alltoall(sendb, 3, MPI_INT, recvb, 3, MPI_INT, ring);
    for (int k = 0; k < 3; k++) {
        /* From the left neighbour we get what it sent right, and vice versa. */
        check(recvb[0][k] == 100 * left + 10 + k, "ring alltoall from left [%d]=%d", k, recvb[0][k]);
        check(recvb[1][k] == 100 * right + k, "ring alltoall from right [%d]=%d", k, recvb[1][k]);
        checksum += recvb[0][k] + recvb[1][k];
    }
    checksum += ag[0] + ag[1];

    long total = 0;
    MPI_Reduce(&checksum, &total, 1, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0)
        printf("topologies on %d ranks: grid %d x %d, graph %d edges, checksum %ld\n",
               size, dims[0], dims[1], ne, total);

    MPI_Comm_free(&row);
    MPI_Comm_free(&col);
    MPI_Comm_free(&cart);
    MPI_Comm_free(&graph);
    MPI_Comm_free(&dg);
    MPI_Comm_free(&ring);
    free(index);
    free(edges);

    int rc = finish(rank, size);
    MPI_Finalize();
    return rc;
}
