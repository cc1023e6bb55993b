/* Attribute copy/delete callbacks (user functions, MPI_COMM_DUP_FN) and a
 * user error handler, called by MPI from inside the lower half: counts,
 * values, the __thread variable the callbacks touch and errno writes must
 * come out as natively. */
#include <mpi.h>
#include <stdio.h>
#include <errno.h>
static int copies, deletes, ehcalls; static __thread int tls;
static int cp(MPI_Comm c,int k,void*x,void*in,void*out,int*f){(void)c;(void)k;copies++;tls++;errno=0;*(long*)out=(long)in+*(int*)x;*f=1;return MPI_SUCCESS;}
static int dl(MPI_Comm c,int k,void*v,void*x){(void)c;(void)k;(void)v;(void)x;deletes++;return MPI_SUCCESS;}
static void eh(MPI_Comm*c,int*code,...){(void)c;(void)code;ehcalls++;}
int main(int a,char**v){MPI_Init(&a,&v);int r;MPI_Comm_rank(MPI_COMM_WORLD,&r);
 int k, extra=5; MPI_Comm_create_keyval(cp,dl,&k,&extra); MPI_Comm d; MPI_Comm_dup(MPI_COMM_WORLD,&d);
 MPI_Comm_set_attr(d,k,(void*)10L); MPI_Comm d2; MPI_Comm_dup(d,&d2); long *val; int flag; MPI_Comm_get_attr(d2,k,&val,&flag);
 int k2; MPI_Comm_create_keyval(MPI_COMM_DUP_FN, MPI_COMM_NULL_DELETE_FN, &k2, NULL); MPI_Comm_set_attr(d,k2,(void*)77L); MPI_Comm d3; MPI_Comm_dup(d,&d3); long *v3; int f3; MPI_Comm_get_attr(d3,k2,&v3,&f3);
 int *ub; int fu; MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &ub, &fu);
 MPI_Errhandler e; MPI_Comm_create_errhandler(eh,&e); MPI_Comm_set_errhandler(d,e); MPI_Comm_call_errhandler(d, MPI_ERR_OTHER);
 int sz; MPI_Comm_size(d,&sz); int rc=MPI_Send(&sz,1,MPI_INT,sz+5,0,d);
 MPI_Comm_free(&d2); MPI_Comm_free(&d); MPI_Comm_free(&d3); MPI_Comm_free_keyval(&k); MPI_Errhandler_free(&e);
 if(r==0) printf("copies %d deletes %d val %ld flag %d dupfn %ld %d tagub %d ehcalls %d sendrc!=0 %d tls %d\n",copies,deletes,(long)val,flag,(long)v3,f3,fu&&*ub>0,ehcalls,rc!=0,tls);
 MPI_Finalize();}
